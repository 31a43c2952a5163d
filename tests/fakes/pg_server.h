// A throwaway PostgreSQL server for tests: `initdb` into a temp dir, `postgres` started on a
// free loopback port of its own, stopped by PID (fast shutdown) when destroyed. Nothing
// assumes a system service. As root (CI), the server runs as the `postgres` user that
// Debian's package creates, since PostgreSQL refuses to run as root.
#ifndef CMO_TESTS_FAKES_PG_SERVER_H_
#define CMO_TESTS_FAKES_PG_SERVER_H_

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace cmo::testing {

struct PgServerOptions {
  // A network namespace (`ip netns add`) to run the server in, as on another host; "" = ours.
  std::string netns;
  // The address to listen on besides the namespace's loopback, and the host in Uri(); the
  // namespace's veth address when `netns` is set.
  std::string listen = "127.0.0.1";
};

class PgServer {
 public:
  // kFailedPrecondition when PostgreSQL's binaries are missing (scripts/install-deps.sh
  // installs them), kUnavailable when the server did not come up (its log is in the message).
  static absl::StatusOr<std::unique_ptr<PgServer>> Start(const PgServerOptions& options = {});
  ~PgServer();  // stops the server and removes its data dir
  PgServer(const PgServer&) = delete;
  PgServer& operator=(const PgServer&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // postgresql://cmo@127.0.0.1:PORT/DB (trust authentication on loopback).
  std::string Uri(const std::string& db = "postgres") const;
  // Creates a database (for one test's stores).
  absl::Status CreateDatabase(const std::string& db);
  // Stops the server now (fast shutdown), as a crash of the database host would look to a
  // client; Restart() starts it again on the same port and data.
  void Stop();
  // Immediate shutdown (`pg_ctl stop -m immediate`: SIGQUIT, no checkpoint), as a crash; the
  // next Restart() recovers from the WAL.
  void Crash();
  absl::Status Restart();

 private:
  PgServer() = default;
  absl::Status Launch();

  PgServerOptions options_;
  std::string dir_;  // holds data/ and the log
  std::string bin_;  // PostgreSQL's bin dir
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace cmo::testing

#endif  // CMO_TESTS_FAKES_PG_SERVER_H_
