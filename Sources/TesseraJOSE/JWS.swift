import Foundation

/// Signs compact JWS.
public enum JWS {
    /// Signs `payload` with `key` under the header `{"alg","kid","typ"}`.
    public static func sign(payload: [UInt8], with key: SigningKey, type: String? = nil) throws -> String {
        let headerSegment: String
        if type == "at+jwt" {
            headerSegment = key.accessTokenHeaderSegment
        } else {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            headerSegment = Base64URL.encode(try encoder.encode(JWSHeader(alg: key.algorithm.rawValue, kid: key.keyID, typ: type)))
        }
        let signingInput = headerSegment + "." + Base64URL.encode(payload)
        let signature = try key.sign(Array(signingInput.utf8))
        return signingInput + "." + Base64URL.encode(signature)
    }
}
