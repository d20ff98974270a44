// reports/reports.h — the reports for monitors and the province
// (docs/reports.md), built from the rows the Store returns, and their forms.
//
// Contract
// - Every builder is a pure function of its rows: same rows, same table,
//   rows in a fixed order (by their key columns). Nothing is estimated:
//   medians and percentiles are computed over every row (nearest rank).
// - A Table's cells follow its columns: kText holds a string, kInteger an
//   int64_t, kPercent a double in [0, 1], kHours a double (hours).
// - Months and days are counted in the zone `utc_offset_minutes` east of UTC
//   (China Standard Time, 480, by default).
// - to_csv() gives UTF-8 with a byte order mark and CRLF line ends (RFC 4180),
//   so Excel opens Chinese text correctly; a text cell that a spreadsheet
//   would take for a formula (=, +, -, @, tab, CR) is prefixed with '.
// - to_xlsx() builds a workbook with one sheet per table: a bold header row,
//   frozen, and number formats per column kind. It writes a temporary file
//   (the library writes only to files), reads it back and removes it.
//
// Threads: everything may be called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

#include <boost/json/value.hpp>

#include "banshi/result.h"
#include "store/store.h"

namespace banshi::reports {

enum class ColumnKind : uint8_t { kText, kInteger, kPercent, kHours };

struct Column {
  std::string key;     // the JSON member name ("onTimeRate")
  std::string title;   // the header shown in CSV and Excel
  ColumnKind kind = ColumnKind::kText;
};

using Cell = std::variant<std::string, int64_t, double>;

struct Table {
  std::string name;    // the report's name in the API ("cases"); also the sheet name
  std::string title;   // what it shows, one line
  std::vector<Column> columns;
  std::vector<std::vector<Cell>> rows;
};

// The reports, by name, in the order of a workbook's sheets.
inline constexpr const char* kReportNames[] = {"cases", "on-time", "steps", "sla", "ratings"};
bool known_report(std::string_view name);

// The language of column titles: "zh" (the default) or "en".
enum class Language : uint8_t { kZh, kEn };

struct Options {
  int32_t utc_offset_minutes = 480;
  int64_t now = 0;                 // for "overdue now" in the SLA report
  Language language = Language::kZh;
  // Process names by process id (the latest deployed version's name).
  std::map<std::string, std::string> process_names;
};

// Processes that are not applicants' cases (the data comparison, the rating
// follow-up): left out of every report.
bool is_internal_process(std::string_view process_id);

// Cases started in the period, by operation (process), region and month:
// started, completed, terminated, still running.
Table cases_report(const std::vector<store::ReportCase>& cases, const Options& options);
// Completed tasks by operation and region: on time (no due date, or
// completed by it and never breached), late, and the on-time rate.
Table on_time_report(const std::vector<store::ReportTask>& tasks, const Options& options);
// Completed tasks per step: how many, median and 90th-percentile handling
// time (creation to completion), the longest; plus the step's open tasks.
Table steps_report(const std::vector<store::ReportTask>& tasks, const Options& options);
// Breaches and escalations by department and region, completed and open
// tasks together: escalated (any level), breached, and open tasks past due now.
Table sla_report(const std::vector<store::ReportTask>& tasks, const Options& options);
// Ratings by operation and region: the count per level, the satisfaction
// rate (very satisfied, satisfied or basically satisfied over all) and the
// follow-ups bad ratings opened.
Table ratings_report(const std::vector<store::RatingRecord>& ratings, const Options& options);

// The nearest-rank percentile (0 < p <= 1) of sorted values; 0 when empty.
int64_t percentile(const std::vector<int64_t>& sorted, double p);
// The median of sorted values: the middle one, or the mean of the two middle ones.
int64_t median(const std::vector<int64_t>& sorted);

// {"name", "title", "columns": [{key, title, kind}], "rows": [{key: value}]}
boost::json::value to_json(const Table& table);
std::string to_csv(const Table& table);
Result<std::string> to_xlsx(const std::vector<Table>& tables);

// The rating levels of 政务服务"好差评": 1 very satisfied … 5 very
// dissatisfied; words as the API spells them. level_of() gives 0 for an
// unknown word. Levels 4 and 5 are bad and open a follow-up.
std::string_view level_word(int32_t level);
int32_t level_of(std::string_view word);
inline bool is_bad_level(int32_t level) { return level >= 4; }

}  // namespace banshi::reports
