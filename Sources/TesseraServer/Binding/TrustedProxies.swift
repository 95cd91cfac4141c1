import Foundation
import HTTPTypes
import TesseraCore

/// Addresses of proxies in front of Tessera (docs/binding.md): those whose forwarded
/// client address is believed (`--trusted-proxy`), or those whose `Client-Cert` is
/// (`--client-cert-proxy`).
public struct TrustedProxies: Sendable, Hashable {
    /// The one header the client address is read from: the proxies must set it
    /// (appending to what arrived), and the other is never read, so a client cannot
    /// pick its address by sending the header the proxy does not manage.
    public enum Header: String, Sendable, Hashable, CaseIterable {
        case xForwardedFor = "x-forwarded-for"
        case forwarded = "forwarded"
    }

    struct Range: Sendable, Hashable {
        let bytes: [UInt8]
        let prefix: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == bytes.count else { return false }
            var remaining = prefix
            for index in bytes.indices where remaining > 0 {
                let bits = min(8, remaining)
                let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
                if address[index] & mask != bytes[index] & mask { return false }
                remaining -= bits
            }
            return true
        }
    }

    let ranges: [Range]
    /// Where the client address is read.
    public let header: Header

    /// No proxy is trusted.
    public init() {
        ranges = []
        header = .xForwardedFor
    }

    /// Parses `ADDRESS` or `ADDRESS/PREFIX` entries, IPv4 or IPv6.
    public init(_ entries: [String], header: Header = .xForwardedFor) throws(Invalid) {
        self.header = header
        ranges = try entries.map { entry throws(Invalid) in
            let parts = entry.trimmingCharacters(in: .whitespaces).split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let bytes = IPAddressText.bytes(String(parts[0])) else { throw Invalid("\(entry) is not an IP address or CIDR range") }
            let maximum = bytes.count * 8
            var prefix = maximum
            if parts.count == 2 {
                guard let value = Int(parts[1]), (0...maximum).contains(value) else {
                    throw Invalid("\(entry): the prefix must be 0–\(maximum)")
                }
                prefix = value
            }
            return Range(bytes: bytes, prefix: prefix)
        }
    }

    public struct Invalid: Error, CustomStringConvertible, Sendable {
        public let description: String
        init(_ description: String) { self.description = description }
    }

    public var isEmpty: Bool { ranges.isEmpty }

    /// Whether `address` (an IP address as text) is a trusted proxy. An IPv4 address
    /// mapped into IPv6 (`::ffff:a.b.c.d`) counts as the IPv4 address.
    public func contains(_ address: String) -> Bool {
        guard !ranges.isEmpty, var bytes = IPAddressText.bytes(address) else { return false }
        if bytes.count == 16, bytes.prefix(10).allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF { bytes = Array(bytes.suffix(4)) }
        return ranges.contains { $0.contains(bytes) }
    }

    /// The client's address for a request from `peer`: from a trusted proxy, the
    /// right-most address in ``header`` (`X-Forwarded-For`, or `Forwarded`'s `for=`)
    /// that is not itself a trusted proxy; from anyone else, `peer`. A header that
    /// names no usable address there leaves `peer`.
    public func clientAddress(peer: String, headers: HTTPFields) -> String {
        guard contains(peer) else { return peer }
        var hops: [String] = []
        if header == .forwarded, let forwarded = headers[.forwarded] {
            for element in forwarded.split(separator: ",") {
                for pair in element.split(separator: ";") {
                    let pieces = pair.split(separator: "=", maxSplits: 1)
                    guard pieces.count == 2, pieces[0].trimmingCharacters(in: .whitespaces).lowercased() == "for" else { continue }
                    var value = pieces[1].trimmingCharacters(in: .whitespaces)
                    if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                    hops.append(Self.address(of: value))
                }
            }
        } else if header == .xForwardedFor, let forwardedFor = headers[.xForwardedFor] {
            hops = forwardedFor.split(separator: ",").map { Self.address(of: $0.trimmingCharacters(in: .whitespaces)) }
        }
        for hop in hops.reversed() {
            guard let canonical = IPAddressText.canonical(hop) else { return peer }
            if !contains(canonical) { return canonical }
        }
        return peer
    }

    /// The address in a `for=` or `X-Forwarded-For` element: without brackets and port.
    static func address(of value: String) -> String {
        if value.hasPrefix("[") {
            guard let end = value.firstIndex(of: "]") else { return value }
            return String(value[value.index(after: value.startIndex)..<end])
        }
        // One colon is IPv4 with a port; more is an IPv6 address without one.
        if value.filter({ $0 == ":" }).count == 1, let colon = value.firstIndex(of: ":") { return String(value[..<colon]) }
        return value
    }
}

extension HTTPField.Name {
    /// `Forwarded` (RFC 7239).
    static let forwarded = HTTPField.Name("Forwarded")!
    /// `X-Forwarded-For`.
    static let xForwardedFor = HTTPField.Name("X-Forwarded-For")!
    /// `Client-Cert` and `Client-Cert-Chain` (RFC 9440).
    static let clientCert = HTTPField.Name("Client-Cert")!
    static let clientCertChain = HTTPField.Name("Client-Cert-Chain")!
    /// `DPoP` and `DPoP-Nonce` (RFC 9449).
    static let dpop = HTTPField.Name("DPoP")!
    static let dpopNonce = HTTPField.Name("DPoP-Nonce")!
}
