// `cmo override add --subject U [--op OP | --domain D] --strong --ttl 2h --reason TEXT`,
// `cmo override list`, `cmo override remove ID`: support overrides (flags/override.h).
#include <iostream>
#include <memory>

#include "base/strings.h"
#include "orchestrator/cli/commands.h"
#include "orchestrator/cli/table.h"

namespace cmo::orchestrator {
namespace {

struct AddOptions {
  std::string subject;
  std::string op;
  std::string domain;
  bool strong = false;
  std::string ttl;
  std::string reason;
};

struct RemoveOptions {
  std::string id;
  std::string reason;
};

int RunAdd(const AddOptions& o, const GlobalOptions& global) {
  if (!o.strong) {
    return ReportError(absl::InvalidArgumentError(
        "--strong is required: an override sends the subject to the strong path (the primary), "
        "the only kind there is"));
  }
  nlohmann::json body = {
      {"subject", o.subject}, {"strong", true}, {"ttl", o.ttl}, {"reason", o.reason}};
  if (!o.op.empty()) body["op"] = o.op;
  if (!o.domain.empty()) body["domain"] = o.domain;
  auto out = CallApi(global, {"POST", "/v1/overrides", {}, body});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  std::cout << "override #" << (*out)["id"].get<int64_t>() << ": " << o.subject << " reads strong ("
            << (*out)["scope"].get<std::string>() << ") until "
            << (*out)["expires"].get<std::string>()
            << "; every client applies it with its next flag snapshot\n";
  return kExitOk;
}

int RunList(const GlobalOptions& global) {
  auto out = CallApi(global, {"GET", "/v1/overrides", {}, nullptr});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  Table t({"id", "subject", "scope", "expires", "by", "reason"});
  for (const nlohmann::json& o : *out) {
    t.AddRow({base::StrCat(o["id"].get<int64_t>()), o["subject"].get<std::string>(),
              o["scope"].get<std::string>(), o["expires"].get<std::string>(),
              o["actor"].get<std::string>(), o["reason"].get<std::string>()});
  }
  t.Print(std::cout);
  return kExitOk;
}

int RunRemove(const RemoveOptions& o, const GlobalOptions& global) {
  const std::string reason =
      o.reason.empty() ? base::StrCat("override ", o.id, " removed") : o.reason;
  auto out = CallApi(
      global, {"POST", base::StrCat("/v1/overrides/", o.id, "/remove"), {}, {{"reason", reason}}});
  if (!out.ok()) return ReportError(out.status());
  if (global.json()) {
    PrintJson(*out);
    return kExitOk;
  }
  std::cout << "override #" << o.id << " removed: " << (*out)["subject"].get<std::string>()
            << " routes by the flags again with the next flag snapshot\n";
  return kExitOk;
}

}  // namespace

void SetupOverrideCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  CLI::App* override_cmd = app.add_subcommand(
      "override",
      "Support overrides: send one subject (user) to the strong path for an op, a domain or "
      "every op, for a while (audited, at most 5000 active, 30 days at most each). Reading them "
      "needs viewer, changing them operator");
  override_cmd->require_subcommand(1);
  auto a = std::make_shared<AddOptions>();
  CLI::App* add = override_cmd->add_subcommand(
      "add", "Send a subject strong until --ttl ends; the same subject and scope again renews it");
  add->add_option("--subject", a->subject, "The subject (usually the user id)")->required();
  CLI::Option* op = add->add_option("--op", a->op, "Only this op");
  add->add_option("--domain", a->domain, "Every op of this domain (not with --op)")->excludes(op);
  add->add_flag("--strong", a->strong, "Read from the primary (required: the only kind)");
  add->add_option("--ttl", a->ttl, "How long, e.g. 30m, 2h, 72h (at most 720h)")->required();
  add->add_option("--reason", a->reason, "Why, e.g. the support ticket")->required();
  registry.On(add, [a, &global] { return RunAdd(*a, global); });
  CLI::App* list = override_cmd->add_subcommand("list", "The active overrides");
  registry.On(list, [&global] { return RunList(global); });
  auto r = std::make_shared<RemoveOptions>();
  CLI::App* remove = override_cmd->add_subcommand("remove", "End an override before it expires");
  remove->add_option("id", r->id, "The override's id (`cmo override list`)")->required();
  remove->add_option("--reason", r->reason, "Why, for the audit log (default: says what)");
  registry.On(remove, [r, &global] { return RunRemove(*r, global); });
}

}  // namespace cmo::orchestrator
