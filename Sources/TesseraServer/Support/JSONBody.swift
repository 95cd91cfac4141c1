import Hummingbird

/// Reads a JSON request body (native API and dialects): one of the accepted media types (or none
/// given), at most ``AdminAPI/maximumBodySize`` bytes, one JSON object.
enum JSONBody {
    static func read(_ request: Request, accepting mediaTypes: Set<String>) async throws -> JSONObjectReader {
        if let contentType = request.headers[.contentType], !mediaTypes.contains(where: contentType.hasMediaType) {
            throw Problem(.unsupportedMediaType, "the body must be \(mediaTypes.sorted().joined(separator: " or "))")
        }
        do {
            return try JSONObjectReader(try await request.collectBody(upTo: AdminAPI.maximumBodySize))
        } catch is BodyTooLarge {
            throw Problem(.contentTooLarge, "the body exceeds \(AdminAPI.maximumBodySize) bytes")
        }
    }
}
