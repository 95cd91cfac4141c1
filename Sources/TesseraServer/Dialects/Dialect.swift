import Hummingbird

/// A seed API served in its own wire format over the same core use cases
/// (docs/ARCHITECTURE.md §5). Each lives in its own folder and can be switched off.
public enum Dialect: String, CaseIterable, Sendable {
    /// Rezolve: `POST /api/v1/admin/service-account/create`.
    case rezolve
    /// Mixpanel: `POST /api/app/organizations/{organizationId}/service-accounts`.
    case mixpanel
    /// Ctrl Hub: `POST /v3/orgs/{org_id}/iam/service-accounts` (JSON:API).
    case ctrlhub
    /// Keycard: `POST /organizations/{organization_id}/service-accounts`.
    case keycard
    /// Qualytics: `POST /api/users` and `POST /api/user-tokens` (also without `/api`).
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
