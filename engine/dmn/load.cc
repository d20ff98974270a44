// Reading DMN XML into dmn::Definitions, with validation and positions.
#include <algorithm>
#include <functional>
#include <set>
#include <tuple>

#include <fmt/format.h>

#include "dmn/model.h"
#include "model/xml_document.h"

namespace banshi::dmn {

namespace {

using model::Severity;
using model::XmlDocument;

constexpr std::string_view kDmnNamespaces[] = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd",    // 1.1
    "http://www.omg.org/spec/DMN/20180521/MODEL/",     // 1.2
    "https://www.omg.org/spec/DMN/20191111/MODEL/",    // 1.3
    "https://www.omg.org/spec/DMN/20211108/MODEL/",    // 1.4
    "https://www.omg.org/spec/DMN/20230324/MODEL/",    // 1.5
};

std::string_view local_name(std::string_view qualified) {
  size_t colon = qualified.find(':');
  return colon == std::string_view::npos ? qualified : qualified.substr(colon + 1);
}

std::string_view local_name(pugi::xml_node node) { return local_name(node.name()); }

pugi::xml_node child(pugi::xml_node node, std::string_view name) {
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && local_name(c) == name) return c;
  }
  return {};
}

std::vector<pugi::xml_node> children(pugi::xml_node node, std::string_view name) {
  std::vector<pugi::xml_node> out;
  for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
    if (c.type() == pugi::node_element && local_name(c) == name) out.push_back(c);
  }
  return out;
}

std::string attribute(pugi::xml_node node, std::string_view name) {
  for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
    if (local_name(a.name()) == name) return a.value();
  }
  return {};
}

std::string qualified_attribute_name(pugi::xml_node node, std::string_view name) {
  for (pugi::xml_attribute a = node.first_attribute(); a; a = a.next_attribute()) {
    if (local_name(a.name()) == name) return a.name();
  }
  return std::string(name);
}

// A typeRef may carry a prefix ("feel:number", "xsd:string").
std::string type_ref_of(std::string text) {
  size_t colon = text.find(':');
  if (colon != std::string::npos && text.find(' ') == std::string::npos) text = text.substr(colon + 1);
  return text;
}

std::string trim(std::string_view s) {
  size_t b = 0;
  size_t e = s.size();
  while (b < e && (s[b] == ' ' || s[b] == '\n' || s[b] == '\r' || s[b] == '\t')) ++b;
  while (e > b && (s[e - 1] == ' ' || s[e - 1] == '\n' || s[e - 1] == '\r' || s[e - 1] == '\t')) --e;
  return std::string(s.substr(b, e - b));
}

bool is_dmn_namespace(std::string_view uri) {
  return std::find(std::begin(kDmnNamespaces), std::end(kDmnNamespaces), uri) != std::end(kDmnNamespaces);
}

// The namespace a root element's prefix is bound to (declared on the root).
std::string root_namespace(pugi::xml_node root) {
  std::string_view qualified = root.name();
  size_t colon = qualified.find(':');
  std::string attr = colon == std::string_view::npos ? "xmlns" : "xmlns:" + std::string(qualified.substr(0, colon));
  return root.attribute(attr.c_str()).value();
}

class Reader {
 public:
  Reader(const XmlDocument& doc, std::vector<Diagnostic>& out, bool tolerate_invalid)
      : doc_(doc), out_(out), tolerate_invalid_(tolerate_invalid) {}

  std::shared_ptr<Definitions> read() {
    pugi::xml_node root = doc_.root();
    if (local_name(root) != "definitions") {
      error("DMN001", doc_.pos(root), {}, fmt::format("the root element is '{}', not a DMN 'definitions'", root.name()));
      return nullptr;
    }
    std::string ns = root_namespace(root);
    if (!is_dmn_namespace(ns)) {
      error("DMN001", doc_.pos(root), {},
            ns.empty() ? std::string("the 'definitions' element has no DMN namespace")
                       : fmt::format("'{}' is not a DMN 1.1-1.5 namespace", ns));
      return nullptr;
    }
    defs_ = std::make_shared<Definitions>();
    defs_->id = attribute(root, "id");
    defs_->name = attribute(root, "name");
    defs_->namespace_uri = attribute(root, "namespace");
    collect_names(root, 0);
    options_.names = std::make_shared<const expr::KnownNames>(std::vector<std::string>(names_.begin(), names_.end()));

    // First pass: the DRG elements and their ids, so that references resolve in any order.
    for (pugi::xml_node node = root.first_child(); node; node = node.next_sibling()) {
      if (node.type() != pugi::node_element) continue;
      std::string_view kind = local_name(node);
      if (kind == "itemDefinition") {
        defs_->item_definitions.push_back(read_item_definition(node));
      } else if (kind == "decision") {
        Decision d;
        d.id = attribute(node, "id");
        d.name = attribute(node, "name");
        d.pos = doc_.pos(node);
        register_element(node, d.id, d.name, "decision");
        defs_->decisions.push_back(std::move(d));
        decision_nodes_.push_back(node);
      } else if (kind == "inputData") {
        InputData input;
        input.id = attribute(node, "id");
        input.name = attribute(node, "name");
        input.type_ref = type_ref_of(attribute(child(node, "variable"), "typeRef"));
        register_element(node, input.id, input.name, "input data");
        defs_->inputs.push_back(std::move(input));
      } else if (kind == "businessKnowledgeModel") {
        BusinessKnowledgeModel bkm;
        bkm.id = attribute(node, "id");
        bkm.name = attribute(node, "name");
        bkm.pos = doc_.pos(node);
        bkm.type_ref = type_ref_of(attribute(child(node, "variable"), "typeRef"));
        register_element(node, bkm.id, bkm.name, "business knowledge model");
        defs_->bkms.push_back(std::move(bkm));
        bkm_nodes_.push_back(node);
      } else if (kind == "decisionService") {
        error("DMN002", doc_.pos(node), attribute(node, "id"), "decision services are not supported");
      }
    }
    for (size_t i = 0; i < decision_nodes_.size(); ++i) read_decision(decision_nodes_[i], defs_->decisions[i]);
    for (size_t i = 0; i < bkm_nodes_.size(); ++i) read_bkm(bkm_nodes_[i], defs_->bkms[i]);
    check_cycles();
    return defs_;
  }

 private:
  void error(std::string code, SourcePos pos, std::string element_id, std::string message) {
    out_.push_back(Diagnostic{Severity::kError, std::move(code), pos, std::move(element_id), std::move(message)});
  }
  void warning(std::string code, SourcePos pos, std::string element_id, std::string message) {
    out_.push_back(Diagnostic{Severity::kWarning, std::move(code), pos, std::move(element_id), std::move(message)});
  }

  // Names FEEL texts may refer to: DRG elements, variables, parameters,
  // columns, item components. Plain names need no help from the parser, but
  // names of functions do (they may be called), so all are passed on.
  void collect_names(pugi::xml_node node, int depth) {
    if (depth > 200) return;
    for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
      if (c.type() != pugi::node_element) continue;
      std::string_view kind = local_name(c);
      if (kind == "extensionElements" || kind == "DMNDI") continue;
      if (kind == "decision" || kind == "inputData" || kind == "businessKnowledgeModel" || kind == "variable" ||
          kind == "formalParameter" || kind == "column" || kind == "itemComponent" || kind == "parameter") {
        std::string name = attribute(c, "name");
        if (!name.empty()) names_.insert(name);
      }
      collect_names(c, depth + 1);
    }
  }

  void register_element(pugi::xml_node node, const std::string& id, const std::string& name, std::string_view kind) {
    if (id.empty()) {
      error("DMN003", doc_.pos(node), {}, fmt::format("the {} '{}' has no id", kind, name));
    } else if (!ids_.emplace(id, std::string(kind)).second) {
      error("DMN004", doc_.attribute_pos(node, qualified_attribute_name(node, "id")), id,
            fmt::format("the id '{}' is used twice", id));
    }
    if (name.empty()) {
      error("DMN005", doc_.pos(node), id, fmt::format("the {} '{}' has no name", kind, id));
    } else if (!element_names_.insert(name).second) {
      error("DMN006", doc_.attribute_pos(node, qualified_attribute_name(node, "name")), id,
            fmt::format("the name '{}' is used by two elements", name));
    }
  }

  ItemDefinition read_item_definition(pugi::xml_node node) {
    ItemDefinition item;
    item.name = attribute(node, "name");
    if (pugi::xml_node type = child(node, "typeRef")) item.type_ref = type_ref_of(trim(type.text().get()));
    else item.type_ref = type_ref_of(attribute(node, "typeRef"));
    item.is_collection = attribute(node, "isCollection") == "true";
    if (pugi::xml_node allowed = child(node, "allowedValues")) {
      item.allowed_values = compile_tests(child(allowed, "text"), item.name);
    }
    for (pugi::xml_node component : children(node, "itemComponent")) {
      item.components.push_back(read_item_definition(component));
    }
    return item;
  }

  // "#id" (or "file#id" for an import, which is not supported) → the index of the element.
  std::optional<size_t> resolve(pugi::xml_node ref, std::string_view kind, const std::string& owner_id) {
    std::string href = attribute(ref, "href");
    size_t hash = href.find('#');
    std::string id = hash == std::string::npos ? href : href.substr(hash + 1);
    auto find_in = [&](const auto& items) -> std::optional<size_t> {
      for (size_t i = 0; i < items.size(); ++i) {
        if (items[i].id == id) return i;
      }
      return std::nullopt;
    };
    std::optional<size_t> found;
    if (kind == "decision") found = find_in(defs_->decisions);
    else if (kind == "input") found = find_in(defs_->inputs);
    else found = find_in(defs_->bkms);
    if (!found) {
      error("DMN007", doc_.attribute_pos(ref, qualified_attribute_name(ref, "href")), owner_id,
            hash > 0 && hash != std::string::npos
                ? fmt::format("'{}' refers to another model; imports are not supported", href)
                : fmt::format("no {} has the id '{}'", kind == "input" ? "input data" : kind == "decision"
                                                                             ? "decision"
                                                                             : "business knowledge model",
                              id));
    }
    return found;
  }

  void read_requirements(pugi::xml_node node, const std::string& owner_id, Requirements& req) {
    for (pugi::xml_node info : children(node, "informationRequirement")) {
      if (pugi::xml_node r = child(info, "requiredDecision")) {
        if (auto i = resolve(r, "decision", owner_id)) req.decisions.push_back(*i);
      }
      if (pugi::xml_node r = child(info, "requiredInput")) {
        if (auto i = resolve(r, "input", owner_id)) req.inputs.push_back(*i);
      }
    }
    for (pugi::xml_node knowledge : children(node, "knowledgeRequirement")) {
      if (pugi::xml_node r = child(knowledge, "requiredKnowledge")) {
        if (auto i = resolve(r, "bkm", owner_id)) req.knowledge.push_back(*i);
      }
    }
  }

  void read_decision(pugi::xml_node node, Decision& d) {
    d.type_ref = type_ref_of(attribute(child(node, "variable"), "typeRef"));
    read_requirements(node, d.id, d.requirements);
    current_id_ = d.id;
    pugi::xml_node logic = find_expression(node);
    if (!logic) {
      warning("DMN010", d.pos, d.id, fmt::format("the decision '{}' has no decision logic", d.name));
      return;
    }
    d.logic = read_expression(logic, 0);
  }

  void read_bkm(pugi::xml_node node, BusinessKnowledgeModel& bkm) {
    Requirements req;
    read_requirements(node, bkm.id, req);
    bkm.knowledge = req.knowledge;
    current_id_ = bkm.id;
    pugi::xml_node logic = child(node, "encapsulatedLogic");
    if (!logic) {
      error("DMN011", bkm.pos, bkm.id, fmt::format("the business knowledge model '{}' has no encapsulated logic",
                                                   bkm.name));
      return;
    }
    bkm.logic = read_function(logic, 0);
  }

  static bool is_expression_element(std::string_view kind) {
    return kind == "literalExpression" || kind == "decisionTable" || kind == "context" || kind == "list" ||
           kind == "relation" || kind == "invocation" || kind == "functionDefinition" || kind == "conditional" ||
           kind == "filter" || kind == "for" || kind == "every" || kind == "some";
  }

  static pugi::xml_node find_expression(pugi::xml_node node) {
    for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
      if (c.type() == pugi::node_element && is_expression_element(local_name(c))) return c;
    }
    return {};
  }

  // Maps a position inside a FEEL text to the file.
  SourcePos feel_pos(pugi::xml_node text, const expr::CompileError& e) const {
    SourcePos base = doc_.text_pos(text);
    if (base.line == 0) return base;
    if (e.pos.line <= 1) return SourcePos{base.line, base.column + e.pos.column - 1};
    return SourcePos{base.line + e.pos.line - 1, e.pos.column};
  }

  expr::Expression compile(pugi::xml_node text, expr::Mode mode, std::string_view what) {
    std::string source = text.text().get();
    if (mode == expr::Mode::kExpression && trim(source).empty()) source = "null";
    auto compiled = expr::Expression::compile(source, mode, options_);
    if (!compiled.ok()) {
      // A built-in called with wrong arguments still loads (the expression
      // evaluates to null, as DMN wants), with a warning.
      expr::CompileOptions lenient = options_;
      lenient.call_errors_yield_null = true;
      auto retry = expr::Expression::compile(source, mode, lenient);
      if (retry.ok()) {
        warning("DMN019", feel_pos(text, compiled.error()), current_id_,
                fmt::format("{}: {} (it evaluates to null)", what, compiled.error().message));
        return std::move(retry).value();
      }
      if (tolerate_invalid_) {
        warning("DMN019", feel_pos(text, compiled.error()), current_id_,
                fmt::format("{}: {} (it evaluates to null)", what, compiled.error().message));
        return {};  // evaluates to null: "the expression was not compiled"
      }
      error("DMN020", feel_pos(text, compiled.error()), current_id_,
            fmt::format("{}: {}", what, compiled.error().message));
      return {};
    }
    return std::move(compiled).value();
  }

  std::optional<expr::Expression> compile_tests(pugi::xml_node text, std::string_view what) {
    if (!text || trim(text.text().get()).empty()) return std::nullopt;
    return compile(text, expr::Mode::kUnaryTests, fmt::format("the allowed values of '{}'", what));
  }

  void check_language(pugi::xml_node node) {
    std::string language = attribute(node, "expressionLanguage");
    if (!language.empty() && language.find("FEEL") == std::string::npos &&
        language.find("feel") == std::string::npos) {
      error("DMN021", doc_.pos(node), current_id_,
            fmt::format("the expression language '{}' is not supported (only FEEL)", language));
    }
  }

  std::unique_ptr<BoxedExpression> read_expression(pugi::xml_node node, int depth) {
    auto e = std::make_unique<BoxedExpression>();
    e->pos = doc_.pos(node);
    e->type_ref = type_ref_of(attribute(node, "typeRef"));
    if (depth > 64) {
      error("DMN022", e->pos, current_id_, "the boxed expressions are nested too deeply");
      return e;
    }
    std::string_view kind = local_name(node);
    check_language(node);
    if (kind == "literalExpression") {
      e->kind = BoxedKind::kLiteral;
      pugi::xml_node text = child(node, "text");
      if (!text) {
        e->feel = compile(node, expr::Mode::kExpression, "the literal expression");  // empty: null
      } else {
        e->feel = compile(text, expr::Mode::kExpression, "the literal expression");
      }
    } else if (kind == "context") {
      e->kind = BoxedKind::kContext;
      for (pugi::xml_node entry : children(node, "contextEntry")) {
        pugi::xml_node variable = child(entry, "variable");
        std::string name = attribute(variable, "name");
        pugi::xml_node value = find_expression(entry);
        if (variable && name.empty()) error("DMN023", doc_.pos(variable), current_id_, "a context entry has no name");
        if (!value) {
          error("DMN024", doc_.pos(entry), current_id_,
                fmt::format("the context entry '{}' has no value expression", name));
          continue;
        }
        e->names.push_back(name);
        e->type_refs.push_back(type_ref_of(attribute(variable, "typeRef")));
        e->children.push_back(read_expression(value, depth + 1));
      }
    } else if (kind == "list") {
      e->kind = BoxedKind::kList;
      for (pugi::xml_node c = node.first_child(); c; c = c.next_sibling()) {
        if (c.type() == pugi::node_element && is_expression_element(local_name(c))) {
          e->children.push_back(read_expression(c, depth + 1));
        }
      }
    } else if (kind == "relation") {
      e->kind = BoxedKind::kRelation;
      for (pugi::xml_node column : children(node, "column")) e->names.push_back(attribute(column, "name"));
      for (pugi::xml_node row : children(node, "row")) {
        size_t cells = 0;
        for (pugi::xml_node c = row.first_child(); c; c = c.next_sibling()) {
          if (c.type() == pugi::node_element && is_expression_element(local_name(c))) {
            e->children.push_back(read_expression(c, depth + 1));
            ++cells;
          }
        }
        if (cells != e->names.size()) {
          error("DMN025", doc_.pos(row), current_id_,
                fmt::format("the row has {} cells but the relation has {} columns", cells, e->names.size()));
          while (cells++ < e->names.size()) e->children.push_back(std::make_unique<BoxedExpression>());
          while (e->children.size() % std::max<size_t>(e->names.size(), 1) != 0) e->children.pop_back();
        }
      }
    } else if (kind == "invocation") {
      e->kind = BoxedKind::kInvocation;
      pugi::xml_node callee = find_expression(node);
      if (!callee || local_name(callee) != "literalExpression") {
        error("DMN026", e->pos, current_id_, "an invocation must name the function in a literal expression");
      } else {
        e->callee = trim(child(callee, "text").text().get());
      }
      for (pugi::xml_node binding : children(node, "binding")) {
        pugi::xml_node parameter = child(binding, "parameter");
        e->names.push_back(attribute(parameter, "name"));
        pugi::xml_node value = find_expression(binding);
        e->children.push_back(value ? read_expression(value, depth + 1) : std::make_unique<BoxedExpression>());
      }
    } else if (kind == "functionDefinition") {
      return read_function(node, depth);
    } else if (kind == "decisionTable") {
      e->kind = BoxedKind::kDecisionTable;
      e->table = read_table(node);
    } else {
      error("DMN027", e->pos, current_id_, fmt::format("the boxed expression '{}' is not supported", kind));
    }
    return e;
  }

  std::unique_ptr<BoxedExpression> read_function(pugi::xml_node node, int depth) {
    auto e = std::make_unique<BoxedExpression>();
    e->kind = BoxedKind::kFunction;
    e->pos = doc_.pos(node);
    e->type_ref = type_ref_of(attribute(node, "typeRef"));
    std::string kind = attribute(node, "kind");
    if (!kind.empty() && kind != "FEEL") {
      error("DMN028", e->pos, current_id_, fmt::format("functions of kind '{}' are not supported", kind));
    }
    for (pugi::xml_node parameter : children(node, "formalParameter")) {
      e->names.push_back(attribute(parameter, "name"));
      e->type_refs.push_back(type_ref_of(attribute(parameter, "typeRef")));
    }
    pugi::xml_node body = find_expression(node);
    if (!body) {
      error("DMN029", e->pos, current_id_, "the function has no body");
      e->children.push_back(std::make_unique<BoxedExpression>());
    } else {
      e->children.push_back(read_expression(body, depth + 1));
    }
    return e;
  }

  std::unique_ptr<DecisionTable> read_table(pugi::xml_node node) {
    auto table = std::make_unique<DecisionTable>();
    table->output_label = attribute(node, "outputLabel");
    std::string policy = attribute(node, "hitPolicy");
    if (policy.empty() || policy == "UNIQUE") table->hit_policy = HitPolicy::kUnique;
    else if (policy == "ANY") table->hit_policy = HitPolicy::kAny;
    else if (policy == "PRIORITY") table->hit_policy = HitPolicy::kPriority;
    else if (policy == "FIRST") table->hit_policy = HitPolicy::kFirst;
    else if (policy == "RULE ORDER") table->hit_policy = HitPolicy::kRuleOrder;
    else if (policy == "OUTPUT ORDER") table->hit_policy = HitPolicy::kOutputOrder;
    else if (policy == "COLLECT") table->hit_policy = HitPolicy::kCollect;
    else {
      error("DMN030", doc_.attribute_pos(node, qualified_attribute_name(node, "hitPolicy")), current_id_,
            fmt::format("'{}' is not a hit policy", policy));
    }
    std::string aggregation = attribute(node, "aggregation");
    if (aggregation.empty()) table->aggregation = Aggregation::kNone;
    else if (aggregation == "SUM") table->aggregation = Aggregation::kSum;
    else if (aggregation == "MIN") table->aggregation = Aggregation::kMin;
    else if (aggregation == "MAX") table->aggregation = Aggregation::kMax;
    else if (aggregation == "COUNT") table->aggregation = Aggregation::kCount;
    else {
      error("DMN031", doc_.attribute_pos(node, qualified_attribute_name(node, "aggregation")), current_id_,
            fmt::format("'{}' is not an aggregation (SUM, MIN, MAX, COUNT)", aggregation));
    }
    if (table->aggregation != Aggregation::kNone && table->hit_policy != HitPolicy::kCollect) {
      error("DMN032", doc_.pos(node), current_id_, "an aggregation needs the COLLECT hit policy");
    }
    for (pugi::xml_node input : children(node, "input")) {
      TableInput in;
      in.label = attribute(input, "label");
      pugi::xml_node expression = child(input, "inputExpression");
      if (!expression) {
        error("DMN033", doc_.pos(input), current_id_, "the input has no input expression");
        continue;
      }
      in.type_ref = type_ref_of(attribute(expression, "typeRef"));
      pugi::xml_node text = child(expression, "text");
      if (in.label.empty()) in.label = trim(text.text().get());
      in.expression = compile(text ? text : expression, expr::Mode::kExpression, "the input expression");
      if (pugi::xml_node values = child(input, "inputValues")) {
        pugi::xml_node values_text = child(values, "text");
        if (values_text && !trim(values_text.text().get()).empty()) {
          in.input_values = compile(values_text, expr::Mode::kUnaryTests, "the input values");
        }
      }
      table->inputs.push_back(std::move(in));
    }
    for (pugi::xml_node output : children(node, "output")) {
      TableOutput out;
      out.name = attribute(output, "name");
      out.type_ref = type_ref_of(attribute(output, "typeRef"));
      if (pugi::xml_node values = child(output, "outputValues")) {
        pugi::xml_node values_text = child(values, "text");
        if (values_text && !trim(values_text.text().get()).empty()) {
          out.output_values = compile(values_text, expr::Mode::kUnaryTests, "the output values");
          out.priorities = priorities(values_text);
        }
      }
      if (pugi::xml_node def = child(output, "defaultOutputEntry")) {
        pugi::xml_node def_text = child(def, "text");
        out.default_output = compile(def_text ? def_text : def, expr::Mode::kExpression, "the default output");
      }
      table->outputs.push_back(std::move(out));
    }
    if (table->outputs.empty()) error("DMN034", doc_.pos(node), current_id_, "the decision table has no output");
    if (table->outputs.size() > 1) {
      std::set<std::string> seen;
      for (const auto& out : table->outputs) {
        if (out.name.empty()) {
          error("DMN035", doc_.pos(node), current_id_, "every output of a table with several outputs needs a name");
          break;
        }
        if (!seen.insert(out.name).second) {
          error("DMN035", doc_.pos(node), current_id_, fmt::format("two outputs are named '{}'", out.name));
        }
      }
      if (table->aggregation != Aggregation::kNone) {
        error("DMN036", doc_.pos(node), current_id_, "an aggregation needs a table with exactly one output");
      }
    }
    if (table->hit_policy == HitPolicy::kPriority || table->hit_policy == HitPolicy::kOutputOrder) {
      bool any = std::any_of(table->outputs.begin(), table->outputs.end(),
                             [](const TableOutput& o) { return !o.priorities.empty(); });
      if (!any) {
        error("DMN037", doc_.pos(node), current_id_,
              fmt::format("the {} hit policy needs output values that give the priority", policy));
      }
    }
    size_t index = 0;
    for (pugi::xml_node rule_node : children(node, "rule")) {
      ++index;
      Rule rule;
      rule.id = attribute(rule_node, "id");
      rule.pos = doc_.pos(rule_node);
      auto inputs = children(rule_node, "inputEntry");
      auto outputs = children(rule_node, "outputEntry");
      if (inputs.size() != table->inputs.size()) {
        error("DMN038", rule.pos, current_id_,
              fmt::format("rule {} has {} input entries but the table has {} inputs", index, inputs.size(),
                          table->inputs.size()));
        continue;
      }
      if (outputs.size() != table->outputs.size()) {
        error("DMN039", rule.pos, current_id_,
              fmt::format("rule {} has {} output entries but the table has {} outputs", index, outputs.size(),
                          table->outputs.size()));
        continue;
      }
      for (pugi::xml_node entry : inputs) {
        pugi::xml_node text = child(entry, "text");
        rule.input_entries.push_back(compile(text ? text : entry, expr::Mode::kUnaryTests,
                                             fmt::format("rule {}, input entry", index)));
      }
      for (pugi::xml_node entry : outputs) {
        pugi::xml_node text = child(entry, "text");
        rule.output_entries.push_back(compile(text ? text : entry, expr::Mode::kExpression,
                                              fmt::format("rule {}, output entry", index)));
      }
      table->rules.push_back(std::move(rule));
    }
    return table;
  }

  // The output values "a", "b", "c" as a list, for PRIORITY and OUTPUT ORDER;
  // empty when they are not plain values.
  std::vector<expr::Value> priorities(pugi::xml_node text) {
    std::string source = "[" + std::string(text.text().get()) + "]";
    auto compiled = expr::Expression::compile(source);
    if (!compiled.ok()) return {};
    expr::EvalContext ctx;
    expr::Value v = compiled->evaluate(ctx);
    if (!v.is_list()) return {};
    for (const auto& item : v.as_list()) {
      if (item.is_null()) return {};
    }
    return v.as_list();
  }

  // A decision must not require itself, directly or through other decisions;
  // business knowledge models may call each other (recursion is bounded at run time).
  void check_cycles() {
    std::vector<int> state(defs_->decisions.size(), 0);  // 0 new, 1 on the path, 2 done
    std::function<bool(size_t)> visit = [&](size_t i) {
      if (state[i] == 1) return false;
      if (state[i] == 2) return true;
      state[i] = 1;
      for (size_t r : defs_->decisions[i].requirements.decisions) {
        if (!visit(r)) return false;
      }
      state[i] = 2;
      return true;
    };
    for (size_t i = 0; i < defs_->decisions.size(); ++i) {
      if (state[i] == 0 && !visit(i)) {
        const Decision& d = defs_->decisions[i];
        error("DMN008", d.pos, d.id, fmt::format("the decision '{}' requires itself through other decisions", d.name));
        return;
      }
    }
  }

  const XmlDocument& doc_;
  std::vector<Diagnostic>& out_;
  bool tolerate_invalid_ = false;
  std::shared_ptr<Definitions> defs_;
  std::map<std::string, std::string> ids_;
  std::set<std::string> element_names_;
  std::set<std::string> names_;
  expr::CompileOptions options_;
  std::vector<pugi::xml_node> decision_nodes_;
  std::vector<pugi::xml_node> bkm_nodes_;
  std::string current_id_;
};

}  // namespace

std::string_view hit_policy_name(HitPolicy policy) {
  switch (policy) {
    case HitPolicy::kUnique: return "UNIQUE";
    case HitPolicy::kAny: return "ANY";
    case HitPolicy::kPriority: return "PRIORITY";
    case HitPolicy::kFirst: return "FIRST";
    case HitPolicy::kRuleOrder: return "RULE ORDER";
    case HitPolicy::kOutputOrder: return "OUTPUT ORDER";
    case HitPolicy::kCollect: return "COLLECT";
  }
  return "UNIQUE";
}

const Decision* Definitions::find_decision(std::string_view id_or_name) const {
  for (const auto& d : decisions) {
    if (d.id == id_or_name) return &d;
  }
  for (const auto& d : decisions) {
    if (d.name == id_or_name) return &d;
  }
  return nullptr;
}

const ItemDefinition* Definitions::find_item_definition(std::string_view type_name) const {
  for (const auto& item : item_definitions) {
    if (item.name == type_name) return &item;
  }
  return nullptr;
}

LoadResult load_dmn(std::string_view bytes, const LoadOptions& options) {
  LoadResult result;
  auto doc = XmlDocument::load(bytes, options.limits);
  if (!doc.ok()) {
    result.diagnostics.push_back(doc.error());
    return result;
  }
  Reader reader(doc.value(), result.diagnostics, options.invalid_expressions_evaluate_to_null);
  std::shared_ptr<Definitions> defs = reader.read();
  std::stable_sort(result.diagnostics.begin(), result.diagnostics.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
  });
  result.definitions = std::move(defs);
  return result;
}

bool looks_like_dmn(std::string_view bytes) {
  // Cheap: the root element's local name and a DMN namespace near the start.
  std::string_view head = bytes.substr(0, 4096);
  size_t at = 0;
  while ((at = head.find('<', at)) != std::string_view::npos) {
    if (at + 1 < head.size() && (head[at + 1] == '?' || head[at + 1] == '!')) {
      ++at;
      continue;
    }
    size_t end = head.find_first_of(" \t\r\n>/", at + 1);
    std::string_view name = head.substr(at + 1, end == std::string_view::npos ? head.size() - at - 1 : end - at - 1);
    if (local_name(name) != "definitions") return false;
    for (std::string_view ns : kDmnNamespaces) {
      if (head.find(ns) != std::string_view::npos) return true;
    }
    return false;
  }
  return false;
}

}  // namespace banshi::dmn
