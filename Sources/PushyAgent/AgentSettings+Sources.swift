import FoundationEssentials
import PushyCore
import PushyProtocol

extension AgentSettings {
    /// Resolves every key from, in order of precedence, `flags`, the `PUSHY_*` variables of
    /// `environment`, the config file and the defaults. Lists that flags add to (whitelist,
    /// roles, tags, attributes) hold the file's entries followed by the flags'. Nothing throws:
    /// what is wrong goes to `readProblems`, which `validate()` reports with the rest.
    ///
    /// - Parameters:
    ///   - flags: values given on the command line by key name (`"server_url": "https://…"`);
    ///     list flags as lists of strings the way the flag spells them (`"NAME=COMMAND"`).
    ///   - environment: the process environment (only the keys' variables are read; empty is unset).
    ///   - file: the config file's JSON object, and `filePath`, its name in messages.
    public static func resolve(flags: [String: JSONValue] = [:], environment: [String: String] = [:],
                               file: JSONValue? = nil, filePath: String = "the config file") -> AgentSettings {
        var s = AgentSettings()
        var fileValues: [(String, JSONValue)] = []
        if let file {
            if let object = file.objectValue { fileValues = object } else {
                s.readProblems.append("\(filePath): expected a JSON object of settings")
            }
        }
        for (name, _) in fileValues where key(named: name) == nil {
            s.readProblems.append("unknown key '\(name)' in \(filePath)" + suggestion(for: name))
        }
        for key in keys {
            var given: [(Source, JSONValue)] = []
            // The key's own name wins over an alias (server_url over chef_server_url).
            for spelt in [key.name] + key.aliases {
                guard let value = fileValues.first(where: { $0.0 == spelt })?.1, !value.isNull else { continue }
                given.append((.file(path: filePath, key: spelt), value))
                break
            }
            if let variable = key.environmentVariables.first(where: { !(environment[$0] ?? "").isEmpty }),
               let raw = environment[variable] {
                switch key.kind.value(fromEnvironment: raw) {
                case .success(let value): given.append((.environment(variable), value))
                case .failure(let problem): s.readProblems.append("$\(variable) = '\(raw)': \(problem)")
                }
            }
            if let value = flags[key.name], !value.isNull { given.append((.flag(key.flag), value)) }
            if key.kind.flagsAdd {
                for (source, value) in given { s.set(key, value, from: source) }
                if case .file(let path, _)? = given.first?.0, given.count > 1 {
                    s.sources[key.name] = .fileAndFlag(path: path, flag: key.flag)
                }
            } else if let (source, value) = given.last {
                s.set(key, value, from: source)
            }
        }
        return s
    }

    /// As `resolve(flags:environment:file:filePath:)`, reading the config file at `configFile`
    /// (when given); a file that cannot be read or parsed is a problem.
    public static func resolve(flags: [String: JSONValue] = [:], environment: [String: String] = [:],
                               configFile: String?) -> AgentSettings {
        guard let path = configFile else { return resolve(flags: flags, environment: environment) }
        guard let data = FileManager.default.contents(atPath: path) else {
            var s = resolve(flags: flags, environment: environment)
            s.readProblems.insert("cannot read the config file \(path)", at: 0)
            return s
        }
        do {
            return resolve(flags: flags, environment: environment, file: try JSONValue.parse(Array(data)), filePath: path)
        } catch {
            var s = resolve(flags: flags, environment: environment)
            s.readProblems.insert("config file \(path): \(error)", at: 0)
            return s
        }
    }

    /// Sets `key` from one source's value (lists of `.strings` kinds add to what is there), or
    /// records why it cannot.
    mutating func set(_ key: Key, _ value: JSONValue, from source: Source) {
        func wrongType() { readProblems.append("\(source): expected \(key.kind.typeName), got \(Self.show(value))") }
        switch key.kind {
        case .string(let path):
            guard let v = value.stringValue else { return wrongType() }
            self[keyPath: path] = v
        case .optionalString(let path):
            guard let v = value.stringValue else { return wrongType() }
            self[keyPath: path] = v
        case .int(let path):
            guard let v = value.intValue else { return wrongType() }
            self[keyPath: path] = v
        case .bool(let path):
            guard let v = value.boolValue else { return wrongType() }
            self[keyPath: path] = v
        case .strings(let path):
            guard let list = Self.strings(value) else { return wrongType() }
            self[keyPath: path] += list
        case .optionalStrings(let path):
            guard let list = Self.strings(value) else { return wrongType() }
            self[keyPath: path] = list
        case .whitelist:
            guard let entries = whitelistEntries(value, from: source) else { return wrongType() }
            whitelist += entries
        case .attributes:
            guard let pairs = attributePairs(value, from: source) else { return wrongType() }
            attributes += pairs
        }
        sources[key.name] = source
    }

    /// The entries of a whitelist object (config file) or of `NAME=COMMAND` strings (flags);
    /// nil when the value is neither. Bad entries are recorded and left out.
    mutating func whitelistEntries(_ value: JSONValue, from source: Source) -> [WhitelistEntry]? {
        if value.objectValue != nil {
            do { return try Whitelist.fromJSON(value).entries } catch {
                readProblems.append("\(source): \(error)")
                return []
            }
        }
        guard let flags = Self.strings(value) else { return nil }
        var entries: [WhitelistEntry] = []
        for flag in flags {
            do { entries.append(try WhitelistEntry.parse(flag: flag)) } catch {
                readProblems.append("\(source): \(error)")
            }
        }
        return entries
    }

    /// The pairs of an attributes object of strings or of `KEY=VALUE` strings; nil when the value
    /// is neither. Bad pairs are recorded and left out.
    mutating func attributePairs(_ value: JSONValue, from source: Source) -> [(String, String)]? {
        if let object = value.objectValue {
            var pairs: [(String, String)] = []
            for (k, v) in object {
                guard let text = v.stringValue else {
                    readProblems.append("\(source): the value of '\(k)' must be a string, got \(Self.show(v))")
                    continue
                }
                pairs.append((k, text))
            }
            return pairs
        }
        guard let items = Self.strings(value) else { return nil }
        var pairs: [(String, String)] = []
        for item in items {
            let kv = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard kv.count == 2, !kv[0].isEmpty else {
                readProblems.append("\(source) '\(item)': expected KEY=VALUE")
                continue
            }
            pairs.append((String(kv[0]), String(kv[1])))
        }
        return pairs
    }

    static func strings(_ value: JSONValue) -> [String]? {
        guard let array = value.arrayValue else { return nil }
        let list = array.compactMap(\.stringValue)
        return list.count == array.count ? list : nil
    }

    /// A value as it appears in a message: JSON, cut short.
    static func show(_ value: JSONValue) -> String {
        let text = value.serialized()
        return text.count > 60 ? String(text.prefix(57)) + "…" : text
    }
}

extension AgentSettings.Kind {
    /// An environment variable's text as this kind's JSON value.
    func value(fromEnvironment raw: String) -> Result<JSONValue, EnvironmentProblem> {
        switch self {
        case .string, .optionalString: return .success(.string(raw))
        case .int:
            guard let n = Int(raw.trimmingWhitespace()) else { return .failure(.init(typeName)) }
            return .success(.number(Double(n)))
        case .bool:
            switch raw.lowercased() {
            case "true", "1", "yes", "on": return .success(.bool(true))
            case "false", "0", "no", "off": return .success(.bool(false))
            default: return .failure(.init("expected true or false"))
            }
        case .strings, .optionalStrings, .whitelist, .attributes:
            return .failure(.init("lists cannot be set from the environment"))
        }
    }

    /// Why an environment variable's text does not fit its key.
    struct EnvironmentProblem: Error, CustomStringConvertible {
        let description: String
        init(_ what: String) { description = what.hasPrefix("expected") ? what : "expected \(what)" }
    }
}
