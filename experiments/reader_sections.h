// The sections of an experiment definition that have files of their own, for
// experiment_reader.cc; private to this module. Each reports its problems to the SchemaReader
// and reads what is valid into the experiment, so that one pass reports them all.
//   variants_reader.cc   variants, traffic split, namespace (who is assigned to which arm)
//   metrics_reader.cc    primary and secondary metrics, guardrails
//   seed_form_reader.cc  the seed document's JSON form
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "configtree/config_tree.h"
#include "configtree/schema_reader.h"
#include "experiments/experiment.h"

namespace abrec {

// The string at `n` when it is an identifier (IsExperimentKey's rule); else reports that it is
// not a valid `what` and gives nullopt.
std::optional<std::string> ReadIdentifier(SchemaReader& r, const ConfigNode& n,
                                          std::string_view field, std::string_view what);
// `phase:` when given (absent: the default, shadow). Both forms have it.
void ReadPhase(SchemaReader& r, const ConfigNode* n, Experiment& e);

// The experiment's variant names, comma-separated, for messages.
std::string VariantNames(const Experiment& e);
// Adds `v` unless its name is not an identifier or is one of the platform's buckets.
void AddVariant(SchemaReader& r, const ConfigNode& key_node, const std::string& field, Variant v,
                Experiment& e);
// Two to 16 variants, one of them control.
void CheckVariantSet(SchemaReader& r, const ConfigNode& at, const Experiment& e);
// `variants:`, `traffic:` (after the variants: the split names them) and `namespace:` of the
// native form, each under `root`.
void ReadVariants(SchemaReader& r, const ConfigNode& root, Experiment& e);
void ReadTraffic(SchemaReader& r, const ConfigNode& root, Experiment& e);
void ReadNamespace(SchemaReader& r, const ConfigNode& root, Experiment& e);

// `metrics:` at `n`: the native map {primary, secondary, guardrails}, or the seed form's list
// (the first is the primary metric; premium_lift is premium_per_user).
void ReadMetrics(SchemaReader& r, const ConfigNode& n, MetricsSpec& m);

// The whole experiment in the seed document's JSON form (DESIGN.md gives the mapping).
Experiment ReadSeedForm(SchemaReader& r, const ConfigNode& root);

}  // namespace abrec
