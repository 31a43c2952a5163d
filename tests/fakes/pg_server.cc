#include "tests/fakes/pg_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "base/postgres.h"
#include "base/strings.h"

namespace cmo::testing {
namespace {

// Debian keeps initdb and postgres out of PATH, under /usr/lib/postgresql/<version>/bin.
std::string FindBinDir() {
  std::vector<std::string> candidates;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/usr/lib/postgresql", ec)) {
    candidates.push_back(e.path().string() + "/bin");
  }
  std::sort(candidates.rbegin(), candidates.rend());  // newest version first
  for (const std::string& c : candidates) {
    if (::access((c + "/initdb").c_str(), X_OK) == 0 &&
        ::access((c + "/postgres").c_str(), X_OK) == 0)
      return c;
  }
  return "";
}

int FreePort() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(a);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// Runs `argv` as the postgres user when we are root, inside network namespace `netns` if set;
// output to `log`. Returns the child's PID.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log,
            const std::string& netns = "") {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (!netns.empty()) {  // before setuid: entering a namespace needs CAP_SYS_ADMIN
    const int fd = ::open(("/var/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0 || ::setns(fd, CLONE_NEWNET) != 0) ::_exit(124);
    ::close(fd);
  }
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr || ::setgid(pw->pw_gid) != 0 || ::setuid(pw->pw_uid) != 0) ::_exit(126);
  }
  // A test that crashes or is killed by its timeout must not leave a server behind: the server
  // gets SIGINT (fast shutdown) when the test process dies. Set after setuid, which clears it.
  ::prctl(PR_SET_PDEATHSIG, SIGINT);
  if (::getppid() != parent) ::_exit(125);  // the test died before the line above
  FILE* out = std::fopen(log.c_str(), "a");
  if (out != nullptr) {
    ::dup2(fileno(out), 1);
    ::dup2(fileno(out), 2);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  ::execv(args[0], args.data());
  ::_exit(127);
}

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgServer>> PgServer::Start(const PgServerOptions& options) {
  std::unique_ptr<PgServer> s(new PgServer());
  s->options_ = options;
  s->bin_ = FindBinDir();
  if (s->bin_.empty()) {
    return absl::FailedPreconditionError(
        "no PostgreSQL server binaries under /usr/lib/postgresql/*/bin; run "
        "scripts/install-deps.sh (it installs Debian's postgresql)");
  }
  std::string tmpl = "/tmp/cmo_pg_XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) return absl::InternalError("mkdtemp failed");
  s->dir_ = tmpl;
  if (::geteuid() == 0) {
    const passwd* pw = ::getpwnam("postgres");
    if (pw == nullptr) {
      return absl::FailedPreconditionError(
          "running as root, and there is no postgres user to run the server as (Debian's "
          "postgresql package creates it)");
    }
    if (::chown(s->dir_.c_str(), pw->pw_uid, pw->pw_gid) != 0) {
      return absl::InternalError(base::StrCat("cannot chown ", s->dir_));
    }
  }
  const std::string log = s->dir_ + "/initdb.log";
  const pid_t init = Spawn({s->bin_ + "/initdb", "-D", s->dir_ + "/data", "-U", "cmo",
                            "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"},
                           log);
  int status = 0;
  ::waitpid(init, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::UnavailableError(base::StrCat("initdb failed: ", Slurp(log)));
  }
  if (options.listen != "127.0.0.1") {
    // Reached from other namespaces (other "hosts") over their veth: trust those too.
    std::ofstream(s->dir_ + "/data/pg_hba.conf", std::ios::app)
        << "host all all 10.0.0.0/8 trust\n";
  }
  s->port_ = FreePort();
  if (absl::Status st = s->Launch(); !st.ok()) return st;
  return s;
}

absl::Status PgServer::Launch() {
  const std::string log = dir_ + "/server.log";
  // fsync off: a test server's data need not survive a power cut, and it is much faster. Commits
  // stay synchronous (WAL written before COMMIT returns), so a crash of the server process —
  // what the fault tests do — loses no acknowledged transaction.
  pid_ = Spawn(
      {bin_ + "/postgres", "-D", dir_ + "/data", "-p", std::to_string(port_), "-k", dir_, "-c",
       "listen_addresses=" +
           (options_.listen == "127.0.0.1" ? options_.listen : "127.0.0.1," + options_.listen),
       "-c", "fsync=off", "-c", "full_page_writes=off", "-c", "max_connections=200", "-c",
       "wal_level=logical"},
      log, options_.netns);
  for (int i = 0; i < 300; ++i) {
    if (base::PgConnection::Connect(Uri()).ok()) return absl::OkStatus();
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError(base::StrCat("postgres exited at start: ", Slurp(log)));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return absl::UnavailableError(
      base::StrCat("postgres did not accept connections in 15 s: ", Slurp(log)));
}

std::string PgServer::Uri(const std::string& db) const {
  return base::StrCat("postgresql://cmo@", options_.listen, ":", port_, "/", db);
}

absl::Status PgServer::CreateDatabase(const std::string& db) {
  auto conn = base::PgConnection::Connect(Uri());
  if (!conn.ok()) return conn.status();
  return (*conn)->ExecScript(base::StrCat("CREATE DATABASE \"", db, "\""));
}

void PgServer::Crash() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGQUIT);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

void PgServer::Stop() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGINT);  // fast shutdown: running transactions are rolled back
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

absl::Status PgServer::Restart() {
  Stop();
  return Launch();
}

PgServer::~PgServer() {
  Stop();
  std::error_code ec;
  if (!dir_.empty()) std::filesystem::remove_all(dir_, ec);
}

}  // namespace cmo::testing
