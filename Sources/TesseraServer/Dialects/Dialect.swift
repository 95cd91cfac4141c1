import Hummingbird

/// A seed API served in its own wire format over the same core use cases
/// (DESIGN §5). Each lives in its own folder and can be switched off.
public enum Dialect: String, CaseIterable, Sendable {
    /// `000_…`: `POST /api/v1/admin/service-account/create`.
    case rezolve
    /// `003_…`: `POST /organizations/{organization_id}/service-accounts`.
    case keycard

    func register(on router: Router<TesseraRequestContext>, api: AdminAPI) {
        switch self {
        case .rezolve: RezolveRoutes(api: api).register(on: router)
        case .keycard: KeycardRoutes(api: api).register(on: router)
        }
    }
}
