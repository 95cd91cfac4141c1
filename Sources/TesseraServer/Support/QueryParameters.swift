import Hummingbird
import TesseraCore

/// A request's query, decoded as browsers and HTTP clients encode it
/// (`application/x-www-form-urlencoded`): `+` is a space and `%XX` a byte, in
/// names and values alike. Python's requests, axios and Go's `url.Values` send
/// `expand[]` as `expand%5B%5D`; both spellings mean the same parameter here.
struct QueryParameters: Sendable {
    private let pairs: [(name: String, value: String)]

    /// Parses the raw query; a name or value that is not valid percent-encoding of
    /// UTF-8 without control characters is a 400.
    init(_ request: Request) throws(Problem) {
        var pairs: [(name: String, value: String)] = []
        for pair in request.uri.query?.utf8.split(separator: UInt8(ascii: "&"), omittingEmptySubsequences: true) ?? [] {
            let parts = pair.split(separator: UInt8(ascii: "="), maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = FormBody.decode(parts[0]), let value = parts.count == 2 ? FormBody.decode(parts[1]) : "" else {
                throw Problem(.badRequest, "the query string is not valid percent-encoding")
            }
            pairs.append((name, value))
        }
        self.pairs = pairs
    }

    /// The first value of `name`.
    subscript(name: String) -> String? { pairs.first { $0.name == name }?.value }

    /// Every value of `name`, in order.
    func all(_ name: String) -> [String] { pairs.filter { $0.name == name }.map(\.value) }
}
