// The forms of a report: JSON for the console, CSV and Excel for download.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>
#include <fmt/core.h>
#include <xlsxwriter.h>

#include "reports/reports.h"

namespace banshi::reports {

namespace json = boost::json;

namespace {

std::string_view kind_word(ColumnKind k) {
  switch (k) {
    case ColumnKind::kText: return "text";
    case ColumnKind::kInteger: return "integer";
    case ColumnKind::kPercent: return "percent";
    case ColumnKind::kHours: return "hours";
  }
  return "text";
}

json::value cell_json(const Cell& c) {
  if (const auto* s = std::get_if<std::string>(&c)) return json::value(*s);
  if (const auto* i = std::get_if<int64_t>(&c)) return json::value(*i);
  return json::value(std::get<double>(c));
}

// A text cell a spreadsheet would read as a formula gets a leading quote.
std::string csv_text(const std::string& s) {
  std::string v = s;
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@' || v[0] == '\t' || v[0] == '\r')) {
    v.insert(v.begin(), '\'');
  }
  if (v.find_first_of(",\"\r\n") == std::string::npos) return v;
  std::string out = "\"";
  for (char ch : v) {
    if (ch == '"') out += '"';
    out += ch;
  }
  out += '"';
  return out;
}

std::string csv_cell(const Cell& c, ColumnKind kind) {
  if (const auto* s = std::get_if<std::string>(&c)) return csv_text(*s);
  if (const auto* i = std::get_if<int64_t>(&c)) return std::to_string(*i);
  const double d = std::get<double>(c);
  if (kind == ColumnKind::kPercent) return fmt::format("{:.4f}", d);
  return fmt::format("{:.2f}", d);
}

// Removes the temporary workbook however to_xlsx() leaves.
struct TempFile {
  std::string path;
  ~TempFile() {
    if (!path.empty()) std::remove(path.c_str());
  }
};

}  // namespace

json::value to_json(const Table& t) {
  json::array columns;
  for (const Column& c : t.columns) {
    columns.push_back(json::object{{"key", c.key}, {"title", c.title}, {"kind", kind_word(c.kind)}});
  }
  json::array rows;
  for (const auto& row : t.rows) {
    json::object o;
    for (size_t i = 0; i < row.size() && i < t.columns.size(); ++i) o[t.columns[i].key] = cell_json(row[i]);
    rows.push_back(std::move(o));
  }
  return json::object{{"name", t.name}, {"title", t.title}, {"columns", std::move(columns)}, {"rows", std::move(rows)}};
}

std::string to_csv(const Table& t) {
  std::string out = "\xEF\xBB\xBF";
  for (size_t i = 0; i < t.columns.size(); ++i) {
    if (i) out += ',';
    out += csv_text(t.columns[i].title);
  }
  out += "\r\n";
  for (const auto& row : t.rows) {
    for (size_t i = 0; i < row.size() && i < t.columns.size(); ++i) {
      if (i) out += ',';
      out += csv_cell(row[i], t.columns[i].kind);
    }
    out += "\r\n";
  }
  return out;
}

Result<std::string> to_xlsx(const std::vector<Table>& tables) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::temp_directory_path(ec);
  if (ec) return Error{"report", "no temporary directory for the workbook: " + ec.message()};
  std::string pattern = (dir / "banshi-report-XXXXXX").string();
  const int fd = ::mkstemp(pattern.data());
  if (fd < 0) return Error{"report", "cannot create a temporary file for the workbook"};
  ::close(fd);
  TempFile file{pattern};

  lxw_workbook_options options{};
  options.constant_memory = LXW_FALSE;
  options.tmpdir = nullptr;
  options.use_zip64 = LXW_FALSE;
  lxw_workbook* wb = workbook_new_opt(file.path.c_str(), &options);
  if (wb == nullptr) return Error{"report", "cannot start the workbook"};
  lxw_format* header = workbook_add_format(wb);
  format_set_bold(header);
  format_set_bg_color(header, 0xDDEBF7);
  format_set_border(header, LXW_BORDER_THIN);
  lxw_format* integer = workbook_add_format(wb);
  format_set_num_format(integer, "#,##0");
  lxw_format* percent = workbook_add_format(wb);
  format_set_num_format(percent, "0.0%");
  lxw_format* hours = workbook_add_format(wb);
  format_set_num_format(hours, "0.00");

  lxw_error failure = LXW_NO_ERROR;
  auto check = [&](lxw_error e) {
    if (e != LXW_NO_ERROR && failure == LXW_NO_ERROR) failure = e;
  };
  for (const Table& t : tables) {
    lxw_worksheet* ws = workbook_add_worksheet(wb, t.name.substr(0, 31).c_str());
    if (ws == nullptr) {
      workbook_close(wb);
      return Error{"report", fmt::format("cannot add the sheet '{}'", t.name)};
    }
    for (size_t c = 0; c < t.columns.size(); ++c) {
      const auto col = static_cast<lxw_col_t>(c);
      check(worksheet_write_string(ws, 0, col, t.columns[c].title.c_str(), header));
      const double width = t.columns[c].kind == ColumnKind::kText ? 22 : 14;
      check(worksheet_set_column(ws, col, col, width, nullptr));
    }
    worksheet_freeze_panes(ws, 1, 0);
    for (size_t r = 0; r < t.rows.size(); ++r) {
      const auto row = static_cast<lxw_row_t>(r + 1);
      for (size_t c = 0; c < t.rows[r].size() && c < t.columns.size(); ++c) {
        const auto col = static_cast<lxw_col_t>(c);
        const Cell& cell = t.rows[r][c];
        if (const auto* s = std::get_if<std::string>(&cell)) {
          // write_string stores text as text: nothing in it is ever a formula.
          check(worksheet_write_string(ws, row, col, s->c_str(), nullptr));
        } else if (const auto* i = std::get_if<int64_t>(&cell)) {
          check(worksheet_write_number(ws, row, col, static_cast<double>(*i), integer));
        } else {
          lxw_format* f = t.columns[c].kind == ColumnKind::kPercent ? percent : hours;
          check(worksheet_write_number(ws, row, col, std::get<double>(cell), f));
        }
      }
    }
  }
  const lxw_error closed = workbook_close(wb);
  if (failure != LXW_NO_ERROR) return Error{"report", fmt::format("cannot write the workbook: {}", lxw_strerror(failure))};
  if (closed != LXW_NO_ERROR) return Error{"report", fmt::format("cannot write the workbook: {}", lxw_strerror(closed))};
  std::ifstream in(file.path, std::ios::binary);
  if (!in) return Error{"report", "cannot read the workbook back"};
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace banshi::reports
