#include <iostream>
#include <memory>

#include "base/json.h"
#include "base/units.h"
#include "orchestrator/bench/breaker_bench.h"
#include "orchestrator/bench/cdc_bench.h"
#include "orchestrator/bench/pipeline_bench.h"
#include "orchestrator/bench/read_bench.h"
#include "orchestrator/bench/reconcile_bench.h"
#include "orchestrator/bench/tiers_bench.h"
#include "orchestrator/bench/writers_bench.h"
#include "orchestrator/cli/commands.h"

namespace cmo::orchestrator {
namespace {

struct PipelineOptions {
  PipelineBenchOptions bench;
  std::string rate = "max";
};

int PrintReport(const absl::StatusOr<nlohmann::json>& report, const GlobalOptions& global) {
  if (!report.ok()) return ReportError(report.status());
  if (global.json()) {
    PrintJson(*report);
  } else {
    for (const auto& [k, v] : report->items()) std::cout << k << ": " << base::JsonText(v) << "\n";
  }
  return kExitOk;
}

int RunPipeline(PipelineOptions o, const GlobalOptions& global) {
  if (o.rate != "max") {
    try {
      o.bench.rate = std::stoll(o.rate);
    } catch (...) {
      o.bench.rate = -1;
    }
    if (o.bench.rate <= 0) {
      return ReportError(absl::InvalidArgumentError(
          "--rate: write a positive number of changes per second, or max"));
    }
  }
  return PrintReport(RunPipelineBench(o.bench), global);
}

}  // namespace

void SetupBenchCommands(CLI::App& app, const GlobalOptions& global, CommandRegistry& registry) {
  CLI::App* bench =
      app.add_subcommand("bench", "Benchmarks whose figures go to docs/BENCHMARKS.md");
  bench->require_subcommand(1);
  auto o = std::make_shared<PipelineOptions>();
  CLI::App* pipeline = bench->add_subcommand(
      "pipeline",
      "primary -> outbox -> Kafka (embedded) -> applier -> replica throughput and lag, with the "
      "SQLite and Kafka limits measured in the same run");
  pipeline->add_option("--seconds", o->bench.seconds, "Length of the run (default 30)")
      ->check(CLI::Range(2, 3600));
  pipeline->add_option("--rate", o->rate, "Offered changes/s, or max (default)");
  pipeline->add_option("--keys", o->bench.keys, "Key space (default 1000000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  pipeline
      ->add_option("--batch", o->bench.batch,
                   "Writes per primary transaction at --rate max (default 10000)")
      ->check(CLI::Range(1, 100000));
  pipeline
      ->add_option("--max-ahead", o->bench.max_ahead,
                   "At --rate max, changes the writer may be ahead of the replica (default 40000)")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  pipeline->add_option("--work-dir", o->bench.work_dir, "Where temporary stores go (default /tmp)");
  pipeline->add_flag("!--no-limits", o->bench.limits,
                     "Skip measuring the store's and Kafka's limits");
  pipeline->add_option("--primary", o->bench.primary_url,
                       "Run on this PostgreSQL primary (postgresql://...) instead of SQLite");
  pipeline->add_option("--replica", o->bench.replica_url,
                       "...and this PostgreSQL replica (another database or server)");
  pipeline->add_option("--kafka", o->bench.kafka,
                       "Run on this real Kafka cluster (host:port,...) instead of the embedded "
                       "one; kafka_limit_per_s is measured there too");
  pipeline->add_flag("--transactional", o->bench.transactional,
                     "The relay publishes in Kafka transactions (kafka.transactional_id)");
  registry.On(pipeline, [o, &global] { return RunPipeline(*o, global); });

  auto r = std::make_shared<ReadBenchOptions>();
  CLI::App* read = bench->add_subcommand(
      "read",
      "Client-library overhead on reads: direct store reads vs Client::Read at 0% and 1% shadow "
      "sampling, and routing + token handling alone");
  read->add_option("--seconds", r->seconds, "Length of each measurement (default 2)")
      ->check(CLI::Range(0.1, 600.0));
  read->add_option("--rounds", r->rounds, "Interleaved rounds; the best of each counts (default 3)")
      ->check(CLI::Range(1, 100));
  read->add_option("--keys", r->keys, "Rows in the store (default 100000)")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  read->add_option("--work-dir", r->work_dir, "Where temporary stores go (default /tmp)");
  read->add_option("--primary", r->primary_url,
                   "Read against this PostgreSQL primary (postgresql://...) instead of SQLite");
  read->add_option("--replica", r->replica_url, "...and this PostgreSQL replica");
  registry.On(read, [r, &global] { return PrintReport(RunReadBench(*r), global); });

  auto b = std::make_shared<BreakerBenchOptions>();
  CLI::App* breaker = bench->add_subcommand(
      "breaker",
      "Time from the first bad telemetry window to every client routing the op to strong, over "
      "repeated injected divergence bursts (client processes, embedded Kafka)");
  breaker->add_option("--clients", b->clients, "Client processes (default 3)")
      ->check(CLI::Range(1, 16));
  breaker->add_option("--trips", b->trips, "Bursts to inject (default 20)")
      ->check(CLI::Range(1, 1000));
  breaker->add_option("--reads-per-s", b->reads_per_s, "Reads per second per client (default 500)")
      ->check(CLI::Range(50, 100000));
  breaker
      ->add_option("--healthy-seconds", b->healthy_seconds,
                   "Run this long without faults first; trips in it count as false (default 0)")
      ->check(CLI::Range(0, 86400));
  breaker->add_option("--work-dir", b->work_dir, "Where the temporary state dir goes");
  breaker->add_option("--kafka", b->kafka,
                      "Run on this real Kafka cluster (host:port,...) instead of the embedded one");
  registry.On(breaker, [b, &global] { return PrintReport(RunBreakerBench(*b), global); });

  auto t = std::make_shared<TiersBenchOptions>();
  CLI::App* tiers = bench->add_subcommand(
      "tiers",
      "Super users: priority-channel lag against a bulk backlog, and the converged-notification "
      "delay (a write until WaitConverged says every region has it) under a bulk write load");
  tiers->add_option("--regions", t->regions, "Replica regions (default 3)")
      ->check(CLI::Range(1, 16));
  tiers->add_option("--notifications", t->notifications, "Writes waited on (default 300)")
      ->check(CLI::Range(1, 100000));
  tiers
      ->add_option("--bulk-writes-per-s", t->bulk_writes_per_s,
                   "Other writes meanwhile (default 500)")
      ->check(CLI::Range(0, 100000));
  tiers
      ->add_option("--priority-writes", t->priority_writes,
                   "Priority tier writes, 20 ms apart (default 200)")
      ->check(CLI::Range(1, 100000));
  tiers->add_option_function<std::string>(
      "--backlog",
      [t](const std::string& v) {
        absl::StatusOr<absl::Duration> d = base::ParseDuration(v);
        if (!d.ok() || *d < absl::ZeroDuration() || *d > absl::Minutes(5)) {
          throw CLI::ValidationError("--backlog", "a duration from 0s to 5m, e.g. 3s");
        }
        t->backlog = *d;
      },
      "How far behind each region's bulk channel is held (default 3s)");
  tiers->add_option("--work-dir", t->work_dir, "Where the temporary state dir goes");
  registry.On(tiers, [t, &global] { return PrintReport(RunTiersBench(*t), global); });

  auto rc = std::make_shared<ReconcileBenchOptions>();
  CLI::App* rec = bench->add_subcommand(
      "reconcile",
      "Digest compare, find-and-heal of random divergent keys, full-scan rate and the naive "
      "row-by-row scan, on one pair of stores");
  rec->add_option("--keys", rc->keys, "Rows in each store (default 1000000)")
      ->check(CLI::Range(int64_t{1000}, int64_t{100'000'000}));
  rec->add_option("--divergent", rc->divergent, "Keys to corrupt on the replica (default 1000)")
      ->check(CLI::Range(1, 1'000'000));
  rec->add_option("--digest-bits", rc->digest_bits, "Digest buckets = 2^bits (default 16)")
      ->check(CLI::Range(4, 24));
  rec->add_option("--work-dir", rc->work_dir, "Where the temporary stores go (default /tmp)");
  rec->add_option("--primary", rc->primary_url,
                  "Run on this PostgreSQL primary (postgresql://...) instead of SQLite");
  rec->add_option("--replica", rc->replica_url, "...and this PostgreSQL replica");
  rec->add_flag("--keep-data", rc->keep_data,
                "PostgreSQL: keep the filled stores (schema cmo_bench_keys_KEYS_bits_BITS) and "
                "reuse them on the next run with the same --keys and --digest-bits");
  registry.On(rec, [rc, &global] { return PrintReport(RunReconcileBench(*rc), global); });

  auto w = std::make_shared<WritersBenchOptions>();
  auto cdc = std::make_shared<CdcBenchOptions>();
  CLI::App* cdc_cmd = bench->add_subcommand(
      "cdc",
      "Change data capture end to end (slot -> relay -> Kafka -> applier -> replica) against "
      "the raw decode rate of the same WAL, measured in the same run");
  cdc_cmd
      ->add_option("--primary", cdc->primary_url,
                   "The source database, wal_level=logical (postgresql://...)")
      ->required();
  cdc_cmd
      ->add_option("--replica", cdc->replica_url,
                   "The replica store (postgresql://... or an SQLite file)")
      ->required();
  cdc_cmd->add_option("--changes", cdc->changes, "Row changes in the backlog (default 200000)")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}));
  cdc_cmd
      ->add_option("--rows-per-transaction", cdc->rows_per_transaction,
                   "Rows per app transaction (default 100)")
      ->check(CLI::Range(1, 1'000'000));
  cdc_cmd->add_option("--value-bytes", cdc->value_bytes, "Bytes per row value (default 100)")
      ->check(CLI::Range(0, 1'000'000));
  registry.On(cdc_cmd, [cdc, &global] { return PrintReport(RunCdcBench(*cdc), global); });

  CLI::App* writers = bench->add_subcommand(
      "writers",
      "Several app processes writing one PostgreSQL primary at once: acknowledged writes/s and "
      "commit latency per process count, and a check that the LSNs match the acknowledged writes");
  writers->add_option("--primary", w->primary_url, "The PostgreSQL primary (postgresql://...)")
      ->required();
  writers
      ->add_option("--processes", w->processes, "Process counts to run, in order (default 1,2,4,8)")
      ->delimiter(',')
      ->check(CLI::Range(1, 64));
  writers->add_option("--seconds", w->seconds, "Seconds per process count (default 10)")
      ->check(CLI::Range(1, 3600));
  writers->add_option("--batch", w->batch, "Writes per transaction (default 1: one per request)")
      ->check(CLI::Range(1, 100000));
  writers->add_option("--keys", w->keys, "Distinct keys written at random (default 1000000)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000'000}));
  writers->add_option("--value-bytes", w->value_bytes, "Bytes per value (default 100)")
      ->check(CLI::Range(1, 1'000'000));
  registry.On(writers, [w, &global] { return PrintReport(RunWritersBench(*w), global); });

  auto wc = std::make_shared<WritersClientOptions>();
  CLI::App* writers_client = bench->add_subcommand(
      "writers-client", "A writer process of `cmo bench writers` (started by it)");
  writers_client->group("");
  writers_client->add_option("--primary", wc->primary_url)->required();
  writers_client->add_option("--schema", wc->schema)->required();
  writers_client->add_option("--start-ms", wc->start_unix_ms)->required();
  writers_client->add_option("--seconds", wc->seconds);
  writers_client->add_option("--batch", wc->batch);
  writers_client->add_option("--keys", wc->keys);
  writers_client->add_option("--value-bytes", wc->value_bytes);
  writers_client->add_option("--seed", wc->seed);
  writers_client->add_option("--out", wc->out)->required();
  registry.On(writers_client, [wc] {
    absl::Status s = RunWritersClient(*wc);
    return s.ok() ? kExitOk : ReportError(s);
  });

  // The client processes `bench breaker` starts; not for people.
  auto c = std::make_shared<BreakerClientOptions>();
  CLI::App* client = bench->add_subcommand(
      "breaker-client", "A client process of `cmo bench breaker` (started by it)");
  client->group("");
  client->add_option("--op", c->op)->required();
  client->add_option("--keys", c->keys);
  client->add_option("--reads-per-s", c->reads_per_s);
  client->add_option("--out", c->out)->required();
  client->add_option("--seconds", c->seconds);
  registry.On(client, [c, &global] {
    c->state_dir = global.state_dir;
    absl::Status s = RunBreakerClient(*c);
    return s.ok() ? kExitOk : ReportError(s);
  });
}

}  // namespace cmo::orchestrator
