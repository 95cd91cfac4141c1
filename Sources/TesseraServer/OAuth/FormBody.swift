import Foundation
import Hummingbird
import TesseraCore

extension FormBody {
    /// Reads the body of an OAuth endpoint request: it must be
    /// `application/x-www-form-urlencoded`, at most `limit` bytes, well encoded,
    /// and repeat no parameter outside `repeatable`.
    static func read(_ request: Request, upTo limit: Int, repeatable: Set<String> = []) async throws -> FormBody {
        guard request.headers.value(of: .contentType)?.hasMediaType("application/x-www-form-urlencoded") == true else {
            throw OAuthError.invalidRequest("the body must be application/x-www-form-urlencoded")
        }
        let bytes = try await request.collectBody(upTo: limit)
        do {
            return try FormBody(bytes, repeatable: repeatable)
        } catch .duplicate(let name) {
            throw OAuthError.invalidRequest("parameter \(name) is repeated")
        } catch {
            throw OAuthError.invalidRequest("the form body is not valid form-url-encoding")
        }
    }
}
