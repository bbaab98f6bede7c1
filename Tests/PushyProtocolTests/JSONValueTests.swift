import Testing

@testable import PushyProtocol

/// The ordered JSON value and its own strict parser.
@Suite(.timeLimit(.minutes(2))) struct JSONValueTests {
    static func parse(_ text: String) throws -> JSONValue { try JSONValue.parse(text) }

    /// Texts that serialize back to exactly themselves.
    @Test(arguments: [
        #"{"b":1,"a":[true,false,null,"x"],"c":{"z":-1.5,"y":""}}"#,
        #"{"a":1,"a":2}"#,
        #"[]"#, #"{}"#, #"[[],{},[{}]]"#, #""""#, #"0"#, #"-7"#, #"0.25"#, #"null"#,
        #"{"env":{"Z":"1","A":"2","M":"3"}}"#,
        #""tab\tquote\"back\\slash\nnl\r\b\f""#,
        #""\u0001\u001f""#,
        #""é中😀""#,
    ])
    func roundTripIsExact(_ text: String) throws {
        #expect(try Self.parse(text).serialized() == text)
    }

    @Test func keyOrderAndDuplicatesAreKept() throws {
        let v = try Self.parse(#" { "z" : 1 , "a" : 2 , "z" : 3 } "#)
        #expect(v.keys == ["z", "a", "z"])
        #expect(v["z"] == 1, "subscript gives the first occurrence")
        #expect(v["missing"] == nil)
        #expect(v != (try Self.parse(#"{"a":2,"z":1,"z":3}"#)), "order matters for equality")
        #expect(v.serialized() == #"{"z":1,"a":2,"z":3}"#)
    }

    @Test(arguments: [
        (#""\u00e9""#, "é"),
        (#""\u4E2D""#, "中"),
        (#""\ud83d\ude00""#, "😀"),
        (#""\uD834\uDD1E""#, "𝄞"),
        (#""\u0000""#, "\u{0}"),
        (#""\/""#, "/"),
        (#""a\"b""#, "a\"b"),
        ("\"é中\"", "é中"),
    ])
    func stringEscapesDecode(_ text: String, _ expected: String) throws {
        #expect(try Self.parse(text) == .string(expected))
    }

    @Test func nonASCIIAndControlCharactersSerialize() {
        #expect(JSONValue.string("😀é").serialized() == "\"😀é\"")
        #expect(JSONValue.string("\u{0}\u{1b}").serialized() == #""\u0000\u001b""#)
        #expect(JSONValue.string("\u{7f}").serialized() == "\"\u{7f}\"")
    }

    /// Malformed input is rejected with the byte offset where the parser stopped.
    @Test(arguments: [
        ("", 0), ("   ", 3), ("{", 1), ("[", 1), (#"{"a":}"#, 5), ("[1,]", 3), ("[1 2]", 3), (#"{"a" 1}"#, 5),
        ("{1:2}", 1), (#"{"a":1,}"#, 7), (#""abc"#, 4), ("tru", 0), ("nul", 0), ("True", 0), ("01", 1), ("00", 1), ("-01", 2), ("1.", 2),
        ("-", 1), (".5", 0), ("1e", 2), ("+1", 0), ("1 2", 2), (#""\x""#, 3), (#""\u12G4""#, 5),
        (#""\ud800""#, 7), (#""\ud800\u0041""#, 13), (#""\udc00""#, 7), ("\"a\nb\"", 2), ("1e400", 0),
        ("NaN", 0), ("[1]]", 3), ("\u{feff}{}", 0),
    ])
    func badInputIsRejectedWithOffset(_ text: String, _ offset: Int) {
        #expect {
            _ = try JSONValue.parse(text)
        } throws: { error in
            (error as? JSONParseError)?.offset == offset
        }
    }

    @Test func invalidUTF8InAStringIsRejected() {
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse([0x22, 0xC3, 0x28, 0x22]) }
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse([0x22, 0xFF, 0x22]) }
    }

    @Test func deepNestingIsRejectedNotCrashed() throws {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect {
            _ = try JSONValue.parse(deep)
        } throws: { error in
            (error as? JSONParseError)?.message.contains("deep") == true
        }
        let objects = String(repeating: #"{"a":"#, count: 10_000) + "1" + String(repeating: "}", count: 10_000)
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse(objects) }
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(try Self.parse(fine).serialized() == fine)
    }

    @Test(arguments: [
        (JSONValue.number(1), "1"), (.number(1.0), "1"), (.number(-0.0), "0"), (.number(3600), "3600"),
        (.number(1.5), "1.5"), (.number(-2.25), "-2.25"), (.number(0.1), "0.1"), (.number(123_456_789_012), "123456789012"),
        (.number(.nan), "null"), (.number(.infinity), "null"), (.number(-.infinity), "null"),
    ])
    func numbersSerialize(_ value: JSONValue, _ text: String) {
        #expect(value.serialized() == text)
    }

    @Test(arguments: ["1e3", "1E+3", "-12.5e-1", "0", "1e20", "1.7976931348623157e308", "5e-324", "123456789012345678"])
    func numbersRoundTripByValue(_ text: String) throws {
        let v = try Self.parse(text)
        #expect(try Self.parse(v.serialized()) == v)
    }

    /// Integers take a fast path; every form must still give Double's value for the same text.
    @Test(arguments: ["0", "-0", "7", "-42", "999999999999999", "-999999999999999", "1000000000000000",
                      "12345678901234567890", "4096", "1.0", "-3e2"])
    func numbersParseToTheirDoubleValue(_ text: String) throws {
        let v = try Self.parse(text)
        #expect(v == .number(Double(text)!))
        #expect(v.doubleValue?.sign == Double(text)!.sign)
    }

    /// Strings without escapes take a fast path; escapes, UTF-8 and bad bytes as before.
    @Test func stringsWithAndWithoutEscapes() throws {
        #expect(try Self.parse(#""plain é""#) == "plain é")
        #expect(try Self.parse(#""a\"b\u00e9c\n""#) == "a\"béc\n")
        #expect(try Self.parse(#""x\/y""#) == "x/y")
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse([0x22, 0xFF, 0x22]) }
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse([0x22, 0x61, 0x0A, 0x22]) }
        #expect(throws: JSONParseError.self) { _ = try JSONValue.parse([0x22, 0x61, 0x62]) }
    }

    @Test func accessors() throws {
        let v = try Self.parse(#"{"s":"x","b":true,"i":3,"f":3.5,"big":1e300,"a":[1],"o":{},"n":null}"#)
        #expect(v["s"]?.stringValue == "x")
        #expect(v["b"]?.boolValue == true)
        #expect(v["i"]?.intValue == 3)
        #expect(v["f"]?.intValue == nil)
        #expect(v["f"]?.doubleValue == 3.5)
        #expect(v["big"]?.intValue == nil)
        #expect(v["a"]?.arrayValue == [1])
        #expect(v["o"]?.objectValue?.isEmpty == true)
        #expect(v["n"]?.isNull == true)
        #expect(v["s"]?.intValue == nil)
        #expect(JSONValue.array([1])["a"] == nil)
    }

    @Test func literalsAndHashing() {
        let v: JSONValue = ["a": 1, "b": [true, nil, 2.5, "x"]]
        #expect(v.serialized() == #"{"a":1,"b":[true,null,2.5,"x"]}"#)
        #expect(Set([v, v, ["a": 1]]).count == 2)
        #expect(v.bytes == Array(v.serialized().utf8))
    }
}
