// The subcommands of the `abrec` binary. Each takes the arguments after its name and
// returns the process exit status (0 success, 1 failure, 2 usage error).
#pragma once

#include <string>
#include <vector>

namespace abrec {

using CommandArgs = std::vector<std::string>;

int ServeCommand(const CommandArgs& args);
int ValidateCommand(const CommandArgs& args);
int HashCommand(const CommandArgs& args);
int AssignCommand(const CommandArgs& args);
int BackupCommand(const CommandArgs& args);
int PlanCommand(const CommandArgs& args);
int SimulateCommand(const CommandArgs& args);
int TrainCommand(const CommandArgs& args);
int RecommendCommand(const CommandArgs& args);
int ModelsCommand(const CommandArgs& args);
int PrecomputeCommand(const CommandArgs& args);
int GateCommand(const CommandArgs& args);
int ReportCommand(const CommandArgs& args);
int KeysCommand(const CommandArgs& args);

// The default config file, relative to the working directory.
inline constexpr const char* kDefaultConfig = "config/abrec.yaml";

}  // namespace abrec
