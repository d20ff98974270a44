// api/report_routes.h — ratings, reports and data comparison runs
// (docs/reports.md), registered by Api::add_report_routes().
//
// Routes
// - POST /api/v1/instances/{id}/rating — rate a case that has ended, once
//   (政务服务"好差评"). Staff and supervisors of the case's region record it
//   for the applicant at the window (stored as on their behalf). A bad rating
//   (dissatisfied, very dissatisfied) needs a comment and starts the process
//   rating-follow-up with a task for the supervisors of the case's
//   department; when that process is not deployed the rating is refused (409)
//   and nothing is stored.
// - GET /api/v1/instances/{id}/rating — the rating, 404 when there is none.
// - GET /api/v1/reports — every report (JSON, or ?format=xlsx: one sheet each).
// - GET /api/v1/reports/{report} — one report: cases, on-time, steps, sla or
//   ratings (JSON, ?format=csv or ?format=xlsx). Reports count only what the
//   caller's regions cover; parameters from/to (ms or ISO 8601 date or
//   date-time, China Standard Time when no zone), lang=zh|en.
// - GET /api/v1/comparison-runs — the data comparison's runs, newest first,
//   personal data masked (api/mask.h); a caller kept to regions sees the
//   findings of those regions only.
//
// Registering the routes also registers the data comparison's in-process
// connectors reports.list-comparison-subjects and
// reports.record-comparison-run (reports/comparison.h) with the engine.
#pragma once
