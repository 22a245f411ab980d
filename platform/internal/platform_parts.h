// The platform's parts, for the platform module's own pieces (the lifecycle, the phase gate,
// the report service and the alert log) and for tests: Platform's public API offers intents
// (assign, recommend, log, report), never its parts. Internal to the platform module.
#pragma once

#include "platform/platform.h"

namespace abrec {

class PlatformParts {
 public:
  // Null for read-only tools.
  static EventStore* events(const Platform& p) { return p.events_.get(); }
  static RecommenderServing* recommender(const Platform& p) { return p.recommender_.get(); }
  static ReportService* reports(const Platform& p) { return p.reports_.get(); }

  static ExperimentRegistry& registry(Platform& p) { return p.registry_; }
  static AuditLog& audit(Platform& p) { return p.audit_; }
  static const Clock& clock(const Platform& p) { return p.clock_; }
};

}  // namespace abrec
