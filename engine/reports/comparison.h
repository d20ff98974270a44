// reports/comparison.h — records one run of the data comparison (数据比对,
// workflows/data-comparison.bpmn, docs/reports.md).
//
// The process's last service task names the in-process connector
// kRecordComparisonRun; the API registers it (Api::add_report_routes). It
// reads the job's variables `findings` (a list of what the comparison found)
// and `started` (a list of what it started or correlated) and stores one
// comparison_runs row for the instance.
//
// The first service task names kListComparisonSubjects, also registered by
// the API: it lists the holders to compare (below).
//
// Contract: one row per run, keyed by the recording job's idempotency key
// (the same for every attempt of one job, new for each run of the loop). A
// repeated attempt (a retry after a lost answer) finds the row and answers
// with the same id, so a run is never recorded twice. Malformed variables
// fail the job without retries (an incident shows what was wrong).
// Threads: called on a job worker thread; the Store is thread-safe.
#pragma once

#include <cstdint>

#include "banshi/engine.h"
#include "store/store.h"

namespace banshi::reports {

inline constexpr const char* kRecordComparisonRun = "reports.record-comparison-run";
inline constexpr const char* kListComparisonSubjects = "reports.list-comparison-subjects";
// At most this many holders are compared in one run (the newest cases first).
inline constexpr size_t kMaxComparisonSubjects = 2000;
// The process a death record starts (workflows/certificate-cancellation.bpmn).
inline constexpr const char* kCancellationProcess = "certificate-cancellation";

JobOutcome record_comparison_run(store::Store& store, const JobContext& job, int64_t now);

// The engine's side of the comparison: every certificate holder whose
// linked-services case is running (an issued, not cancelled certificate),
// with what the engine recorded about them: {subjects: [{instanceId,
// applicant, certificateNumber, disability, dibao, tekun, pensionEligible,
// birthDate, cancellationRunning}]}, one per ID number (the newest case).
// cancellationRunning: a certificate-cancellation instance for the holder
// is running, so a death found again starts no second one. A case whose
// variables cannot be read is skipped.
JobOutcome list_comparison_subjects(Engine& engine, const JobContext& job);

}  // namespace banshi::reports
