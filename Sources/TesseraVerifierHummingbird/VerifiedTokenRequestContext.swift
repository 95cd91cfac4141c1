import Hummingbird
import TesseraVerifier

/// A request context that carries the verified access token of the request.
///
/// ```swift
/// struct AppContext: VerifiedTokenRequestContext {
///     var coreContext: CoreRequestContextStorage
///     var verifiedToken: VerifiedToken?
///     init(source: ApplicationRequestContextSource) {
///         coreContext = .init(source: source)
///     }
/// }
/// ```
public protocol VerifiedTokenRequestContext: RequestContext {
    /// Set by ``BearerTokenMiddleware`` before the route runs.
    var verifiedToken: VerifiedToken? { get set }
}
