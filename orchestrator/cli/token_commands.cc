// `cmo token create NAME --role R`, `cmo token list`, `cmo token revoke NAME`: the named API
// tokens of the control service, each with a role (viewer, operator, admin).
#include <iostream>
#include <memory>

#include "base/strings.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"

namespace cmo::orchestrator {
namespace {

struct CreateOptions {
  std::string name;
  std::string role;
  std::string reason;
};

struct RevokeOptions {
  std::string name;
  std::string reason;
};

int RunCreate(const CreateOptions& o, const GlobalOptions& global) {
  const std::string reason =
      o.reason.empty() ? base::StrCat("token ", o.name, " for role ", o.role) : o.reason;
  auto out = CallApi(
      global, {"POST", "/v1/tokens", {}, {{"name", o.name}, {"role", o.role}, {"reason", reason}}});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  // The secret on stdout alone, so `cmo token create ... > file` keeps only it.
  std::cout << (*out)["secret"].get<std::string>() << "\n";
  std::cerr << "token " << o.name << " (role " << o.role
            << ") created; its secret above is shown only now: store it, e.g. in a file for "
               "--token-file\n";
  return kExitOk;
}

int RunList(const GlobalOptions& global) {
  auto out = CallApi(global, {"GET", "/v1/tokens", {}, nullptr});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  Table t({"name", "role", "created", "created by", "revoked"});
  for (const nlohmann::json& tok : *out) {
    t.AddRow({tok["name"].get<std::string>(), tok["role"].get<std::string>(),
              tok["created"].get<std::string>(), tok["created_by"].get<std::string>(),
              tok["revoked"].is_null() ? "-" : tok["revoked"].get<std::string>()});
  }
  t.Print(std::cout);
  return kExitOk;
}

int RunRevoke(const RevokeOptions& o, const GlobalOptions& global) {
  const std::string reason =
      o.reason.empty() ? base::StrCat("token ", o.name, " revoked") : o.reason;
  auto out = CallApi(
      global, {"POST", base::StrCat("/v1/tokens/", o.name, "/revoke"), {}, {{"reason", reason}}});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  std::cout << "token " << o.name << " revoked at " << (*out)["revoked"].get<std::string>()
            << "; a running server refuses it within a second\n";
  return kExitOk;
}

}  // namespace

void SetupTokenCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  CLI::App* token = app.add_subcommand(
      "token",
      "Named API tokens with a role: viewer (user-level reads: divergence, audit, decide, "
      "OFREP), operator (advance, ramp, rollback, pause, breaker reset, reconcile), admin (ops, "
      "plans, settings, tokens). Needs admin: the state dir's token or an admin token");
  token->require_subcommand(1);
  auto c = std::make_shared<CreateOptions>();
  CLI::App* create = token->add_subcommand(
      "create", "Create a token; prints its secret once (stdout), stores only its SHA-256");
  create->add_option("name", c->name, "Token name, e.g. ci-deployer (1-64 of a-z 0-9 . - _)")
      ->required();
  create->add_option("--role", c->role, "viewer, operator or admin")
      ->required()
      ->check(CLI::IsMember({"viewer", "operator", "admin"}));
  create->add_option("--reason", c->reason, "Why, for the audit log (default: says what)");
  registry.On(create, [c, &global] { return RunCreate(*c, global); });
  CLI::App* list = token->add_subcommand("list", "Every token: name, role, created, revoked");
  registry.On(list, [&global] { return RunList(global); });
  auto r = std::make_shared<RevokeOptions>();
  CLI::App* revoke = token->add_subcommand("revoke", "Revoke a token; its name is never reused");
  revoke->add_option("name", r->name, "Token name")->required();
  revoke->add_option("--reason", r->reason, "Why, for the audit log (default: says what)");
  registry.On(revoke, [r, &global] { return RunRevoke(*r, global); });
}

}  // namespace cmo::orchestrator
