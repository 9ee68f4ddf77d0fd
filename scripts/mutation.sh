#!/usr/bin/env bash
# Mutation testing (mutmut, pinned in constraints.txt) of the modules where money and exactly-once live.
# Too slow for CI: run by hand, a module at a time. Measured on 2026-12-06 on a shared 2-core machine under
# load 10-14 (0.13-0.85 mutants/s): transport.py 292 mutants in 15 min and sinks.py 125 in 15 min with
# one job; delivery.py 144 in 3 min, client.py 302 in 10 min and pacing.py 115 in 3 min with
# MUTATION_JOBS=2. The whole list takes one to two hours. Each module is mutated on its own, and its
# mutants run only against that module's fast unit tests (no subprocesses, no Meltano, no stand-in runs
# of the whole pipeline). Runs at low priority (nice 10), on ${MUTATION_JOBS:-1} cores. After adding tests, re-run only the survivors:
# `mutmut run NAME...` in .mutation/<name>/ (with the new test files copied into it and into mutants/).
# Figures and the reason each survivor is equivalent: tests/MUTATION.md.
#
#   scripts/mutation.sh                 every module below
#   scripts/mutation.sh records state   only these (the names in the first column)
#
# Work happens in .mutation/<name>/ (git-ignored): a copy of the package under src/ (mutmut's layout),
# the tests and what they read. The survivors of each module are listed at the end, with
# `mutmut show NAME` run in .mutation/<name>/ to see one; .mutation/summary.txt keeps the figures.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
WORK=$ROOT/.mutation
JOBS=${MUTATION_JOBS:-1}
TAP=tap-stripe-billing/tap_stripe_billing
TARGET=target-kissmetrics/target_kissmetrics

# name | package folder | module | its fast unit tests (pytest node ids, space separated)
MODULES=(
  "records|$TAP|records.py|tests/tap/test_records.py tests/tap/test_record_edges.py tests/tap/test_windows_state.py"
  "money|$TAP|money.py|tests/tap/test_records.py tests/tap/test_record_edges.py tests/project/test_stripe_currencies.py tests/project/test_shared_rules.py tests/tap/test_lifecycle_rules.py"
  "state|$TAP|state.py|tests/tap/test_windows_state.py tests/tap/test_record_edges.py"
  "windows|$TAP|windows.py|tests/tap/test_windows_state.py tests/tap/test_record_edges.py"
  "formatting|$TARGET|formatting.py|tests/target/test_formatting.py tests/target/test_formatting_edges.py tests/target/test_golden_requests.py"
  "journal|$TARGET|journal.py|tests/target/test_journal.py"
  "lifecycle|$TAP|lifecycle.py|tests/tap/test_lifecycle_rules.py tests/tap/test_lifecycle_mutants.py"
  "refunds|$TAP|refunds.py|tests/tap/test_lifecycle_rules.py tests/tap/test_lifecycle_mutants.py"
  "client|$TAP|client.py|tests/tap/test_client.py tests/tap/test_client_edges.py tests/tap/test_client_mutants.py tests/tap/test_rate_limits.py::test_the_client_waits_as_long_as_retry_after_asks tests/tap/test_pacing.py::test_client_sleeps_before_every_retry_with_growing_backoff tests/tap/test_pacing.py::test_client_paces_requests_at_its_configured_rate"
  "events|$TARGET|events.py|tests/target/test_formatting.py tests/target/test_golden_requests.py tests/target/test_events_mutants.py"
  "transport|$TARGET|transport.py|tests/target/test_transport_mutants.py tests/target/test_retries.py"
  "sinks|$TARGET|sinks.py|tests/target/test_sinks_mutants.py tests/target/test_delivery.py tests/target/test_retries.py tests/target/test_golden_requests.py"
  "delivery|$TARGET|delivery.py|tests/target/test_delivery_run.py tests/target/test_sinks_mutants.py tests/target/test_delivery.py tests/target/test_retries.py tests/target/test_golden_requests.py"
  "pacing|$TAP|pacing.py|tests/tap/test_pacing_mutants.py tests/tap/test_rate_limits.py::test_one_endpoint_never_gets_more_than_its_cap_whatever_the_overall_rate tests/tap/test_rate_limits.py::test_a_request_waiting_for_its_endpoint_holds_no_slot_from_other_endpoints tests/tap/test_rate_limits.py::test_overall_limit_still_holds_across_endpoints tests/tap/test_rate_limits.py::test_retry_after_header_values tests/tap/test_rate_limits.py::test_the_client_waits_as_long_as_retry_after_asks tests/tap/test_client.py tests/tap/test_client_edges.py tests/tap/test_client_mutants.py tests/project/test_shared_rules.py tests/tap/test_pacing.py::test_client_sleeps_before_every_retry_with_growing_backoff tests/tap/test_pacing.py::test_client_paces_requests_at_its_configured_rate"
)

scripts/bootstrap.sh
mkdir -p "$WORK"
: > "$WORK/summary.txt"

run_module() {
  local name=$1 package=$2 module=$3 tests=$4
  local dir=$WORK/$name pkg
  pkg=$(basename "$package")
  rm -rf "$dir"
  mkdir -p "$dir/src"
  cp -r "$package" "$dir/src/$pkg"
  cp -r tests stand_ins stripe-fixtures local_pipeline "$dir/"
  find "$dir" -name __pycache__ -prune -exec rm -rf {} +
  {
    echo "[mutmut]"
    echo "source_paths = src/"
    echo "only_mutate = src/$pkg/$module"
    echo "also_copy ="
    echo "    stand_ins/"
    echo "    stripe-fixtures/"
    echo "    local_pipeline/"
    echo "pytest_add_cli_args = -p no:cacheprovider -p no:randomly -q"
    echo "pytest_add_cli_args_test_selection ="
    for t in $tests; do echo "    $t"; done
    echo
    echo "[tool:pytest]"
    echo "pythonpath = ."
    echo "timeout = 20"  # a mutant that deadlocks uses no CPU: mutmut's CPU limit never fires
    echo "markers ="
    echo "    slow: end-to-end"
  } > "$dir/setup.cfg"
  echo "== $name: mutating $package/$module against: $tests"
  local start=$SECONDS
  (cd "$dir" && nice -n 10 "$ROOT/.venv/bin/mutmut" run --max-children "$JOBS" > run.log 2>&1) || {
    echo "mutmut failed for $name: see $dir/run.log"
    tail -20 "$dir/run.log"
    return 1
  }
  (cd "$dir" && "$ROOT/.venv/bin/mutmut" results --all true > results.txt 2>&1) || true
  local total killed survived other
  total=$(grep -c ': ' "$dir/results.txt" || true)
  killed=$(grep -c ': killed' "$dir/results.txt" || true)
  survived=$(grep -c ': survived' "$dir/results.txt" || true)
  other=$((total - killed - survived))
  local line
  line=$(printf '%-11s %5d mutants %5d killed %4d survived %4d other (timeout/suspicious/no tests) %5ds' \
    "$name" "$total" "$killed" "$survived" "$other" $((SECONDS - start)))
  echo "$line" | tee -a "$WORK/summary.txt"
  grep -v ': killed' "$dir/results.txt" | sed "s/^/    /" || true
}

selected=("$@")
for entry in "${MODULES[@]}"; do
  IFS='|' read -r name package module tests <<< "$entry"
  if [ ${#selected[@]} -gt 0 ] && [[ ! " ${selected[*]} " == *" $name "* ]]; then
    continue
  fi
  run_module "$name" "$package" "$module" "$tests" || true
done
echo "== summary ($WORK/summary.txt)"
cat "$WORK/summary.txt"
