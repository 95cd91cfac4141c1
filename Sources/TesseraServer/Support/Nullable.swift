/// An optional member that a JSON answer writes as `null` when it has no value.
///
/// Synthesized `Encodable` leaves a `nil` optional out. The admin API and several
/// dialects document every member of a resource as present, `null` when unset, so
/// their wire shapes mark those members `@Nullable` and keep the synthesized encoder:
/// a wrapped member is encoded as the wrapper, which writes the value or `null`.
@propertyWrapper
struct Nullable<Value: Encodable>: Encodable {
    var wrappedValue: Value?

    init(wrappedValue: Value?) {
        self.wrappedValue = wrappedValue
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue {
            try container.encode(wrappedValue)
        } else {
            try container.encodeNil()
        }
    }
}

extension Nullable: Sendable where Value: Sendable {}
