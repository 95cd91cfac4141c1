/// Comparison whose running time does not depend on where two byte strings differ.
public enum ConstantTime {
    /// True when `a` and `b` are equal. Lengths are compared first; digests of a
    /// fixed size are what this is used for, so the length is not a secret.
    @inline(never)
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for (x, y) in zip(a, b) { difference |= x ^ y }
        return difference == 0
    }
}
