// The OpenFeature Remote Evaluation Protocol (OFREP, service/openapi.yaml of
// open-feature/protocol): POST /ofrep/v1/evaluate/flags/{op} and POST /ofrep/v1/evaluate/flags.
// An app in any language with an OpenFeature SDK and the OFREP provider asks which path a
// user is on; the answer is the one the client library computes (flags::Snapshot::Route), so
// both agree for every subject at a revision.
#include <string>

#include "absl/strings/str_format.h"
#include "base/json.h"
#include "base/strings.h"
#include "flags/bucketing.h"
#include "flags/snapshot.h"
#include "orchestrator/api/http/http_server.h"
#include "orchestrator/api/internal/handlers.h"
#include "orchestrator/api/internal/http_parts.h"

namespace cmo::orchestrator::api_internal {
namespace {

constexpr std::string_view kPrefix = "/ofrep/v1/evaluate/flags";

http::Response Json(int status, const nlohmann::json& body) {
  http::Response r;
  r.status = status;
  r.body = base::JsonText(body, 2) + "\n";
  return r;
}

// OFREP's failure shape: {key?, errorCode, errorDetails}.
http::Response Failure(int status, const std::string& key, std::string_view code,
                       const std::string& details) {
  nlohmann::json body = {{"errorCode", code}, {"errorDetails", details}};
  if (!key.empty()) body["key"] = key;
  return Json(status, body);
}

// One op for one subject. The value and the variant are the path ("strong" or "eventual"):
// a string flag. Never cacheable: a breaker's rollback must reach every caller at once.
nlohmann::json Evaluate(const flags::Snapshot& snapshot, const flags::Flag& flag,
                        const std::string& subject) {
  const flags::Decision d = snapshot.Route(flag.op, subject);
  const int32_t eventual = flags::EffectiveEventualBp(flag);
  const std::string path(flags::PathName(d.path));
  return {{"key", flag.op},
          {"value", path},
          {"variant", path},
          // SPLIT: the subject's bucket decided; STATIC: every subject gets this path now.
          {"reason", eventual > 0 && eventual < 10'000 ? "SPLIT" : "STATIC"},
          {"cacheable", false},
          {"metadata",
           {{"bucket", d.bucket},
            {"threshold", d.threshold_bp},
            {"stage", flags::StageName(d.stage)},
            {"breaker", flags::BreakerStateName(flag.breaker)},
            {"domain", flag.domain},
            {"revision", snapshot.revision()},
            {"why", WhyPath(flag, d)}}}};
}

}  // namespace

std::optional<http::Response> Ofrep(ControlState& state, const http::Request& req) {
  if (req.path != kPrefix && req.path.rfind(base::StrCat(kPrefix, "/"), 0) != 0) {
    return std::nullopt;
  }
  const std::string key =
      req.path.size() > kPrefix.size() ? req.path.substr(kPrefix.size() + 1) : "";
  if (req.method != "POST") {
    return http::ErrorResponse(405, "OFREP evaluation takes POST with {\"context\": {...}}");
  }
  const nlohmann::json body =
      req.body.empty() ? nlohmann::json::object()
                       : nlohmann::json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (!body.is_object()) {
    return Failure(400, key, "PARSE_ERROR", "the body is not a JSON object");
  }
  const auto context = body.find("context");
  if (context != body.end() && !context->is_object()) {
    return Failure(400, key, "INVALID_CONTEXT", "context must be a JSON object");
  }
  const nlohmann::json* targeting = nullptr;
  if (context != body.end() && context->contains("targetingKey")) {
    targeting = &(*context)["targetingKey"];
  }
  if (targeting == nullptr || !targeting->is_string() ||
      targeting->get_ref<const std::string&>().empty()) {
    return Failure(400, key, "TARGETING_KEY_MISSING",
                   "context.targetingKey must be the subject (the user id the app routes by)");
  }
  const std::string& subject = targeting->get_ref<const std::string&>();
  absl::StatusOr<std::shared_ptr<const flags::Snapshot>> snapshot = state.flags->LoadSnapshot();
  if (!snapshot.ok()) {
    return Json(500, {{"errorDetails", std::string(snapshot.status().message())}});
  }
  if (!key.empty()) {
    const flags::Flag* flag = (*snapshot)->Find(key);
    if (flag == nullptr) {
      return Failure(404, key, "FLAG_NOT_FOUND",
                     base::StrCat("no op ", key, "; GET /v1/ops lists them"));
    }
    return Json(200, Evaluate(**snapshot, *flag, subject));
  }
  // Bulk: every op for this subject, tagged by revision and subject so that a caller polling
  // with If-None-Match gets 304 until a flag changes.
  const std::string etag =
      absl::StrFormat("\"%d-%016x\"", (*snapshot)->revision(), flags::SaltSeed(subject));
  for (const auto& [name, value] : req.headers) {
    if (name == "if-none-match" && value == etag) {
      http::Response r;
      r.status = 304;
      r.headers.emplace_back("ETag", etag);
      return r;
    }
  }
  nlohmann::json all = nlohmann::json::array();
  for (const flags::Flag& f : (*snapshot)->flags()) all.push_back(Evaluate(**snapshot, f, subject));
  http::Response r = Json(200, {{"flags", std::move(all)}});
  r.headers.emplace_back("ETag", etag);
  return r;
}

}  // namespace cmo::orchestrator::api_internal
