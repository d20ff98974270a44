// model/xml_document.h — reading untrusted XML safely, with positions and namespaces.
//
// XmlDocument::load() accepts UTF-8 (with or without BOM), UTF-16 (LE/BE, with
// BOM or detectable from "<?xml"), ISO-8859-1 and GB18030/GBK/GB2312; it
// converts everything to UTF-8 before parsing, so positions refer to
// characters of the file as written. It refuses DTDs (no entity expansion, ever),
// invalid byte sequences, documents over the size limit and nesting deeper than
// the depth limit, each with a Diagnostic carrying line:column.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <pugixml.hpp>

#include "banshi/result.h"
#include "model/diagnostic.h"

namespace banshi::model {

struct LoadLimits;

class XmlDocument {
 public:
  static Result<XmlDocument, Diagnostic> load(std::string_view bytes, const LoadLimits& limits);

  pugi::xml_node root() const { return doc_->document_element(); }
  // Position of an element's start tag ('<').
  SourcePos pos(pugi::xml_node node) const;
  // Position of the first character of an attribute's value; the element's
  // position when the attribute cannot be found.
  SourcePos attribute_pos(pugi::xml_node node, std::string_view qualified_name) const;
  // Position of an element's text content (first character after '>').
  SourcePos text_pos(pugi::xml_node node) const;

 private:
  SourcePos pos_at(size_t offset) const;

  std::unique_ptr<pugi::xml_document> doc_;
  std::shared_ptr<std::string> utf8_;    // the converted text pugixml parsed (kept for positions)
  std::vector<size_t> line_starts_;
};

// Resolves element and attribute names to (namespace URI, local name) while
// walking the tree: push() on entering an element, pop() on leaving it.
class NamespaceScope {
 public:
  struct Name {
    std::string_view ns;     // empty: no namespace
    std::string_view local;
    bool bound = true;       // false when the prefix is not declared
  };

  void push(pugi::xml_node element);
  void pop();
  Name element_name(pugi::xml_node element) const;
  Name attribute_name(pugi::xml_attribute attribute) const;
  // Resolves a prefixed value such as "bpmn:Message_1" or "xsd:string" (used by QName-typed attributes).
  std::string_view lookup(std::string_view prefix) const;

 private:
  std::vector<std::pair<std::string_view, std::string_view>> bindings_;  // prefix -> uri; "" = default
  std::vector<size_t> marks_;
};

}  // namespace banshi::model
