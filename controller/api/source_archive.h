// Reading an uploaded source archive (a gzip-compressed tar of the app's
// directory) without unpacking it: the controller needs only its Procfile, to
// record the release's process types. Nothing in the archive is run here.
#ifndef DFLOW_CONTROLLER_API_SOURCE_ARCHIVE_H_
#define DFLOW_CONTROLLER_API_SOURCE_ARCHIVE_H_

#include <string>

#include "absl/status/statusor.h"

namespace dflow::api {

// The text of the Procfile at the archive's top level ("Procfile" or
// "./Procfile"). InvalidArgument when the file is not a gzip tar, or has no
// such Procfile, or it is over 64 KiB.
absl::StatusOr<std::string> ReadProcfile(const std::string& tar_gz_path);

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_SOURCE_ARCHIVE_H_
