/// GGUF metadata value types, numbered as in the file (`enum gguf_type`).
public enum GGUFValueType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// Bytes of one value of a fixed-size type; nil for string and array.
    public var fixedSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }

    /// The fewest bytes one value of this type can take in a file (for bounding counts).
    public var minimumSize: Int {
        switch self {
        case .string: return 8  // u64 length
        case .array: return 4 + 8  // element type + count
        default: return fixedSize!
        }
    }

    public var description: String {
        switch self {
        case .uint8: return "UINT8"
        case .int8: return "INT8"
        case .uint16: return "UINT16"
        case .int16: return "INT16"
        case .uint32: return "UINT32"
        case .int32: return "INT32"
        case .float32: return "FLOAT32"
        case .bool: return "BOOL"
        case .string: return "STRING"
        case .array: return "ARRAY"
        case .uint64: return "UINT64"
        case .int64: return "INT64"
        case .float64: return "FLOAT64"
        }
    }
}

/// A homogeneous GGUF array, stored by element type so that big arrays (49,152 token strings, token
/// types, scores) stay compact and fast to read. `array` holds nested arrays, whose element types
/// may differ from one another.
public enum GGUFArray: Sendable, Equatable {
    case uint8([UInt8])
    case int8([Int8])
    case uint16([UInt16])
    case int16([Int16])
    case uint32([UInt32])
    case int32([Int32])
    case float32([Float])
    case bool([Bool])
    case string([String])
    case uint64([UInt64])
    case int64([Int64])
    case float64([Double])
    case array([GGUFArray])

    public var elementType: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    public var count: Int {
        switch self {
        case .uint8(let a): return a.count
        case .int8(let a): return a.count
        case .uint16(let a): return a.count
        case .int16(let a): return a.count
        case .uint32(let a): return a.count
        case .int32(let a): return a.count
        case .float32(let a): return a.count
        case .bool(let a): return a.count
        case .string(let a): return a.count
        case .array(let a): return a.count
        case .uint64(let a): return a.count
        case .int64(let a): return a.count
        case .float64(let a): return a.count
        }
    }

    /// The elements one by one (allocates; use the typed accessors of `GGUFValue` for big arrays).
    public var values: [GGUFValue] {
        switch self {
        case .uint8(let a): return a.map { .uint8($0) }
        case .int8(let a): return a.map { .int8($0) }
        case .uint16(let a): return a.map { .uint16($0) }
        case .int16(let a): return a.map { .int16($0) }
        case .uint32(let a): return a.map { .uint32($0) }
        case .int32(let a): return a.map { .int32($0) }
        case .float32(let a): return a.map { .float32($0) }
        case .bool(let a): return a.map { .bool($0) }
        case .string(let a): return a.map { .string($0) }
        case .array(let a): return a.map { .array($0) }
        case .uint64(let a): return a.map { .uint64($0) }
        case .int64(let a): return a.map { .int64($0) }
        case .float64(let a): return a.map { .float64($0) }
        }
    }
}

/// One GGUF metadata value.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case bool(Bool)
    case string(String)
    case array(GGUFArray)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)

    /// Shorthands for the common arrays.
    public static func strings(_ a: [String]) -> GGUFValue { .array(.string(a)) }
    public static func floats(_ a: [Float]) -> GGUFValue { .array(.float32(a)) }
    public static func int32s(_ a: [Int32]) -> GGUFValue { .array(.int32(a)) }

    public var type: GGUFValueType {
        switch self {
        case .uint8: return .uint8
        case .int8: return .int8
        case .uint16: return .uint16
        case .int16: return .int16
        case .uint32: return .uint32
        case .int32: return .int32
        case .float32: return .float32
        case .bool: return .bool
        case .string: return .string
        case .array: return .array
        case .uint64: return .uint64
        case .int64: return .int64
        case .float64: return .float64
        }
    }

    /// Any integer type as `Int` (nil for other types, or a UINT64 above `Int.max`).
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return Int(exactly: v)
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// FLOAT32 or FLOAT64 (and, for convenience, any integer type) as `Double`.
    public var floatValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The typed array, or nil when this is not an array.
    public var array: GGUFArray? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The array's elements one by one (allocates per element; prefer the typed accessors).
    public var arrayValue: [GGUFValue]? { array?.values }

    /// An array of strings, without copying.
    public var stringArray: [String]? {
        if case .array(.string(let a)) = self { return a }
        return nil
    }

    /// An array of FLOAT32 (without copying), FLOAT64 or integers, as `Float`.
    public var floatArray: [Float]? {
        guard case .array(let a) = self else { return nil }
        switch a {
        case .float32(let v): return v
        case .float64(let v): return v.map { Float($0) }
        case .string, .bool, .array: return nil
        default: return intArray?.map { Float($0) }
        }
    }

    /// An array of any integer type as `Int` (nil if a UINT64 element exceeds `Int.max`).
    public var intArray: [Int]? {
        guard case .array(let a) = self else { return nil }
        switch a {
        case .uint8(let v): return v.map { Int($0) }
        case .int8(let v): return v.map { Int($0) }
        case .uint16(let v): return v.map { Int($0) }
        case .int16(let v): return v.map { Int($0) }
        case .uint32(let v): return v.map { Int($0) }
        case .int32(let v): return v.map { Int($0) }
        case .int64(let v): return v.map { Int($0) }
        case .uint64(let v):
            var out = [Int]()
            out.reserveCapacity(v.count)
            for x in v {
                guard let i = Int(exactly: x) else { return nil }
                out.append(i)
            }
            return out
        default: return nil
        }
    }
}
