// Keeps the permanent holdout permanent: the population split (salt and fractions) in force
// is recorded next to the database the first time the platform starts; a later start with
// a different split is refused unless the config records a reason in
// assignment.allow_population_change. Accepted changes go to the audit log.
#pragma once

#include "base/error.h"
#include "experiments/audit_log.h"
#include "platform/platform_config.h"

namespace abrec {

// The file recording the split: population.json in the folder of storage.path.
std::string PopulationRecordPath(const PlatformConfig& config);

// Checks the config's split against the record, writing the record when it is new or an
// allowed change. Fails with kFailedPrecondition naming assignment.* when refused.
Result<void> GuardPopulationSplit(const PlatformConfig& config, AuditLog& audit);

}  // namespace abrec
