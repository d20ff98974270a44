// store/rows.h — records read from result rows, shared by the SQLite and
// PostgreSQL stores.
//
// Each reader takes the columns in the order of the store's column list for
// that record (kTaskColumns and the like, the same order in both stores). A
// Row has int64(column), text(column) and bytes(column) (a blob); NULL reads
// as 0 or "". Internal to the stores; pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "store/auth_store.h"
#include "store/frontdoor_store.h"
#include "store/store.h"

namespace banshi::store::rows {

// Keys inside an instance are stored as INTEGER/BIGINT with the same bits.
inline int64_t as_int(uint64_t key) { return static_cast<int64_t>(key); }
inline uint64_t as_key(int64_t value) { return static_cast<uint64_t>(value); }

// A JSON array of strings, as stored for lists (roles, regions, topics);
// anything else reads as empty.
std::vector<std::string> parse_list(const std::string& text);

// key, <id>, version, name, resource, xml, checksum, deployed_at,
// deployed_by: a deployed resource, whose id is `id`.
template <typename Record, typename Row>
Record deployed(const Row& s, std::string Record::*id) {
  Record d;
  d.key = s.int64(0);
  d.*id = s.text(1);
  d.version = static_cast<int32_t>(s.int64(2));
  d.name = s.text(3);
  d.resource = s.text(4);
  d.xml = s.text(5);
  d.checksum = s.text(6);
  d.deployed_at = s.int64(7);
  d.deployed_by = s.text(8);
  return d;
}

// key, process_id, version, ...: see deployed().
template <typename Row>
DefinitionRecord definition(const Row& s) {
  return deployed(s, &DefinitionRecord::process_id);
}

// key, decision_id, version, ...: see deployed().
template <typename Row>
DecisionRecord decision(const Row& s) {
  return deployed(s, &DecisionRecord::decision_id);
}

// id, definition_key, process_id, definition_version, business_key, status,
// version, state, started_at, ended_at, parent_id, parent_element,
// applicant_id, applicant_name, region
template <typename Row>
InstanceRecord instance(const Row& s) {
  InstanceRecord r;
  r.id = s.int64(0);
  r.definition_key = s.int64(1);
  r.process_id = s.text(2);
  r.definition_version = static_cast<int32_t>(s.int64(3));
  r.business_key = s.text(4);
  r.status = static_cast<uint8_t>(s.int64(5));
  r.version = s.int64(6);
  r.state = s.bytes(7);
  r.started_at = s.int64(8);
  r.ended_at = s.int64(9);
  r.parent_id = s.int64(10);  // NULL reads as 0: no parent
  r.parent_element = as_key(s.int64(11));
  r.applicant_id = s.text(12);
  r.applicant_name = s.text(13);
  r.region = s.text(14);
  return r;
}

// t.id, t.instance_id, t.key, t.process_id, t.element_id, t.name,
// t.business_key, t.assignee, t.region, t.form_key, t.priority, t.created_at,
// t.due_at, t.follow_up_at, t.sla_state, t.payload, t.escalation_level,
// t.escalated_to, t.escalated_region, t.department, t.sla_paused_at
// (candidates apart)
template <typename Row>
TaskRecord task(const Row& s) {
  TaskRecord t;
  t.id = s.int64(0);
  t.instance_id = s.int64(1);
  t.key = as_key(s.int64(2));
  t.process_id = s.text(3);
  t.element_id = s.text(4);
  t.name = s.text(5);
  t.business_key = s.text(6);
  t.assignee = s.text(7);
  t.region = s.text(8);
  t.form_key = s.text(9);
  t.priority = static_cast<int32_t>(s.int64(10));
  t.created_at = s.int64(11);
  t.due_at = s.int64(12);
  t.follow_up_at = s.int64(13);
  t.sla_state = static_cast<uint8_t>(s.int64(14));
  t.payload = s.text(15);
  t.escalation_level = static_cast<int32_t>(s.int64(16));
  t.escalated_to = s.text(17);
  t.escalated_region = s.text(18);
  t.department = s.text(19);
  t.sla_paused_at = s.int64(20);
  return t;
}

// id, instance_id, key, type, element_id, retries, due_at, lease_owner,
// lease_until, idempotency_key, last_error, state, payload
template <typename Row>
JobRecord job(const Row& s) {
  JobRecord j;
  j.id = s.int64(0);
  j.instance_id = s.int64(1);
  j.key = as_key(s.int64(2));
  j.type = s.text(3);
  j.element_id = s.text(4);
  j.retries = static_cast<int32_t>(s.int64(5));
  j.due_at = s.int64(6);
  j.lease_owner = s.text(7);
  j.lease_until = s.int64(8);
  j.idempotency_key = s.text(9);
  j.last_error = s.text(10);
  j.state = static_cast<uint8_t>(s.int64(11));
  j.payload = s.text(12);
  return j;
}

// instance_id, key, element_id, due_at
template <typename Row>
TimerRecord timer(const Row& s) {
  return TimerRecord{s.int64(0), as_key(s.int64(1)), s.text(2), s.int64(3)};
}

// instance_id, key, name, correlation_key (or ''), element_id
template <typename Row>
SubscriptionRecord subscription(const Row& s) {
  return SubscriptionRecord{s.int64(0), as_key(s.int64(1)), s.text(2), s.text(3), s.text(4)};
}

// id, name, correlation_key, variables, message_id, published_at, expires_at
template <typename Row>
MessageRecord message(const Row& s) {
  return MessageRecord{s.int64(0), s.text(1), s.text(2), s.text(3), s.text(4), s.int64(5), s.int64(6)};
}

// id, instance_id, key, process_id, element_id, kind, message, job_key, created_at
template <typename Row>
IncidentRecord incident(const Row& s) {
  IncidentRecord i;
  i.id = s.int64(0);
  i.instance_id = s.int64(1);
  i.key = as_key(s.int64(2));
  i.process_id = s.text(3);
  i.element_id = s.text(4);
  i.kind = static_cast<uint8_t>(s.int64(5));
  i.message = s.text(6);
  i.job_key = as_key(s.int64(7));
  i.created_at = s.int64(8);
  return i;
}

// id, at, actor, action, target, address, detail, prev_hash, hash
template <typename Row>
AuditRecord audit(const Row& s) {
  AuditRecord a;
  a.id = s.int64(0);
  a.at = s.int64(1);
  a.actor = s.text(2);
  a.action = s.text(3);
  a.target = s.text(4);
  a.address = s.text(5);
  a.detail = s.text(6);
  a.prev_hash = s.text(7);
  a.hash = s.text(8);
  return a;
}

// id, definition_key, process_id, element_id, due_at, repetitions_left, period
template <typename Row>
StartTimerRecord start_timer(const Row& s) {
  StartTimerRecord t;
  t.id = s.int64(0);
  t.definition_key = s.int64(1);
  t.process_id = s.text(2);
  t.element_id = s.text(3);
  t.due_at = s.int64(4);
  t.repetitions_left = s.int64(5);
  t.period = s.text(6);
  return t;
}

// name, password_hash, roles, department, regions, disabled, created_at,
// password_changed_at
template <typename Row>
UserRecord user(const Row& s) {
  UserRecord u;
  u.name = s.text(0);
  u.password_hash = s.text(1);
  u.roles = parse_list(s.text(2));
  u.department = s.text(3);
  u.regions = parse_list(s.text(4));
  u.disabled = s.int64(5) != 0;
  u.created_at = s.int64(6);
  u.password_changed_at = s.int64(7);
  return u;
}

// id, name, token_hash, topics, created_by, created_at, revoked
template <typename Row>
ApiTokenRecord api_token(const Row& s) {
  return ApiTokenRecord{s.int64(0), s.text(1), s.text(2), parse_list(s.text(3)), s.text(4), s.int64(5),
                        s.int64(6) != 0};
}

// id, process_id, region, status, started_at, ended_at
template <typename Row>
ReportCase report_case(const Row& s) {
  ReportCase r;
  r.id = s.int64(0);
  r.process_id = s.text(1);
  r.region = s.text(2);
  r.status = static_cast<uint8_t>(s.int64(3));
  r.started_at = s.int64(4);
  r.ended_at = s.int64(5);
  return r;
}

// instance_id, process_id, business_key, region, level, comment, rated_by,
// on_behalf, rated_at, follow_up_id
template <typename Row>
RatingRecord rating(const Row& s) {
  RatingRecord r;
  r.instance_id = s.int64(0);
  r.process_id = s.text(1);
  r.business_key = s.text(2);
  r.region = s.text(3);
  r.level = static_cast<int32_t>(s.int64(4));
  r.comment = s.text(5);
  r.rated_by = s.text(6);
  r.on_behalf = s.int64(7) != 0;
  r.rated_at = s.int64(8);
  r.follow_up_id = s.int64(9);
  return r;
}

// id, instance_id, at, found, started, found_count, started_count
template <typename Row>
ComparisonRunRecord comparison_run(const Row& s) {
  ComparisonRunRecord run;
  run.id = s.int64(0);
  run.instance_id = s.int64(1);
  run.at = s.int64(2);
  run.found = s.text(3);
  run.started = s.text(4);
  run.found_count = s.int64(5);
  run.started_count = s.int64(6);
  return run;
}

// business_key, instance_id, process_id, services, region, applicant_hash,
// phone_hash, channel, filed_by, on_behalf, proxy, receipt, created_at,
// linked_key
template <typename Row>
IntakeRecord intake(const Row& s) {
  IntakeRecord r;
  r.business_key = s.text(0);
  r.instance_id = s.int64(1);
  r.process_id = s.text(2);
  r.services = s.text(3);
  r.region = s.text(4);
  r.applicant_hash = s.text(5);
  r.phone_hash = s.text(6);
  r.channel = s.text(7);
  r.filed_by = s.text(8);
  r.on_behalf = s.int64(9) != 0;
  r.proxy = s.text(10);
  r.receipt = s.text(11);
  r.created_at = s.int64(12);
  r.linked_key = s.text(13);
  return r;
}

}  // namespace banshi::store::rows
