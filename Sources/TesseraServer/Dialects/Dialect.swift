import Hummingbird

/// A seed API served in its own wire format over the same core use cases
/// (DESIGN §5). Each lives in its own folder and can be switched off.
public enum Dialect: String, CaseIterable, Sendable {
    /// `000_…`: `POST /api/v1/admin/service-account/create`.
    case rezolve
    /// `001_…`: `POST /api/app/organizations/{organizationId}/service-accounts`.
    case mixpanel
    /// `002_…`: `POST /v3/orgs/{org_id}/iam/service-accounts` (JSON:API).
    case ctrlhub
    /// `003_…`: `POST /organizations/{organization_id}/service-accounts`.
    case keycard
    /// `004_…`: `POST /api/users` and `POST /api/user-tokens`.
    case qualytics

    func register(on router: Router<TesseraRequestContext>, api: AdminAPI) {
        switch self {
        case .rezolve: RezolveRoutes(api: api).register(on: router)
        case .mixpanel: MixpanelRoutes(api: api).register(on: router)
        case .ctrlhub: CtrlHubRoutes(api: api).register(on: router)
        case .keycard: KeycardRoutes(api: api).register(on: router)
        case .qualytics: QualyticsRoutes(api: api).register(on: router)
        }
    }
}
