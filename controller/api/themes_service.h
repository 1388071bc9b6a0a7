// The Themes service (themes.proto) on the CLI's Unix socket: lists and shows
// the catalog and adds custom themes. Thin: the catalog validates and stores.
#ifndef DFLOW_CONTROLLER_API_THEMES_SERVICE_H_
#define DFLOW_CONTROLLER_API_THEMES_SERVICE_H_

#include "controller/api/context.h"
#include "controller/themes/catalog.h"
#include "controller/themes/installer.h"
#include "dflow/controller/v1/themes.grpc.pb.h"

namespace dflow::api {

// The catalog entry as the API shows it; the manifest text only when asked.
void ToProto(const controller_themes::CatalogTheme& t, bool with_manifest,
             controller::v1::ThemeInfo* out);

class ThemesService final : public controller::v1::Themes::Service {
 public:
  ThemesService(ControllerContext* ctx, controller_themes::ThemeCatalog* catalog,
                controller_themes::Installer* installer)
      : ctx_(ctx), catalog_(catalog), installer_(installer) {}

  grpc::Status ListThemes(grpc::ServerContext*, const controller::v1::ListThemesRequest*,
                          controller::v1::ListThemesResponse*) override;
  grpc::Status GetTheme(grpc::ServerContext*, const controller::v1::GetThemeRequest*,
                        controller::v1::ThemeInfo*) override;
  grpc::Status AddTheme(grpc::ServerContext*, const controller::v1::AddThemeRequest*,
                        controller::v1::ThemeInfo*) override;
  grpc::Status InstallTheme(grpc::ServerContext*, const controller::v1::InstallThemeRequest*,
                            controller::v1::OpRef*) override;
  grpc::Status UninstallTheme(grpc::ServerContext*, const controller::v1::UninstallThemeRequest*,
                              controller::v1::OpRef*) override;
  grpc::Status UpgradeTheme(grpc::ServerContext*, const controller::v1::UpgradeThemeRequest*,
                            controller::v1::OpRef*) override;
  grpc::Status GetThemeSecrets(grpc::ServerContext*, const controller::v1::GetThemeSecretsRequest*,
                               controller::v1::ThemeSecretsResponse*) override;
  grpc::Status PackageApp(grpc::ServerContext*, const controller::v1::PackageAppRequest*,
                          controller::v1::PackageAppResponse*) override;

 private:
  ControllerContext* ctx_;
  controller_themes::ThemeCatalog* catalog_;
  controller_themes::Installer* installer_;
};

}  // namespace dflow::api

#endif  // DFLOW_CONTROLLER_API_THEMES_SERVICE_H_
