#include "orchestrator/cli/commands.h"

int main(int argc, char** argv) { return cmo::orchestrator::RunCli(argc, argv); }
