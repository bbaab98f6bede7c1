import PushyPostgres
import Testing

/// `postgres_url` as operators write it for libpq tools; every mistake is named with the form.
@Suite(.timeLimit(.minutes(1))) struct PostgresURLTests {
    @Test func aFullTCPURLParses() throws {
        let u = try PostgresURL(parsing: "postgresql://pushy:s%40cret@db.example.com:6543/pushy_prod?sslmode=verify-full&sslrootcert=/etc/ca.pem&pool_max_conns=25&connect_timeout=2.5")
        #expect(u.user == "pushy" && u.password == "s@cret")
        #expect(u.host == "db.example.com" && u.port == 6543 && u.socketDirectory == nil)
        #expect(u.database == "pushy_prod" && u.tlsMode == .verifyFull && u.rootCertificate == "/etc/ca.pem")
        #expect(u.maxConnections == 25 && u.connectTimeout == 2.5)
        #expect(u.location == "pushy@db.example.com:6543/pushy_prod")
        // The password never shows, except when asked for; the text parses back to the same URL.
        #expect(u.description.contains("****") && !u.description.contains("cret"))
        #expect(try PostgresURL(parsing: u.text(showingPassword: true)) == u)
    }

    @Test func defaultsFollowLibpq() throws {
        let u = try PostgresURL(parsing: "postgres://alice@localhost")
        #expect(u.port == 5432 && u.database == "alice" && u.password == nil && u.tlsMode == .prefer)
        #expect(u.maxConnections == 10 && u.connectTimeout == 5)
        #expect(u.description == "postgres://alice@localhost:5432/alice")
        let v6 = try PostgresURL(parsing: "postgres://a@[::1]:7000/d")
        #expect(v6.host == "::1" && v6.port == 7000 && v6.location == "a@[::1]:7000/d")
    }

    @Test func aUnixSocketURLNamesTheSocketFile() throws {
        let u = try PostgresURL(parsing: "postgres://pushy@/pushy?host=/run/postgresql")
        #expect(u.host == nil && u.socketPath == "/run/postgresql/.s.PGSQL.5432" && u.tlsMode == .disable)
        #expect(try PostgresURL(parsing: u.text(showingPassword: true)) == u)
    }

    @Test(arguments: [
        ("mysql://a@h/d", "starts with postgres://"),
        ("postgres://h/d", "name the database user"),
        ("postgres://a@/d", "name the host"),
        ("postgres://a@h:99999/d", "not a number 1-65535"),
        ("postgres://a@h/d?sslmode=maybe", "sslmode 'maybe' is not one of disable, prefer, require, verify-full"),
        ("postgres://a@h/d?pool=3", "unknown parameter 'pool' (known: sslmode"),
        ("postgres://a@h/d?host=relative", "an absolute path"),
        ("postgres://a@h/d?host=/tmp", "either a host or ?host="),
        ("postgres://a@h/d?sslrootcert=/ca.pem", "sslrootcert needs sslmode=verify-full"),
        ("postgres://a@h/d?connect_timeout=0", "connect_timeout '0'"),
        ("postgres://a:p%zz@h/d", "bad %-escape"),
    ])
    func mistakesAreNamed(text: String, expected: String) {
        #expect {
            _ = try PostgresURL(parsing: text)
        } throws: { error in
            "\(error)".contains(expected) && "\(error)".contains("expected postgres://USER")
        }
    }

    @Test func redactHidesThePasswordOfAnyURL() {
        #expect(PostgresURL.redact("postgres://u:hunter2@h/d") == "postgres://u:****@h:5432/d")
        #expect(PostgresURL.redact("postgres://u:hunter2@h/d?oops=1") == "(unreadable URL)")
    }
}
