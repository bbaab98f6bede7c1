import Foundation
import PostgresNIO
import PushyStore

/// Schema versions, applied in order at open, in one transaction (PostgreSQL's DDL is
/// transactional: a failed migration leaves nothing behind), each recorded in
/// `pushy_schema_migrations`. Never edit a shipped migration; add a new one.
///
/// Servers sharing a database may start together: the migration runs under a transaction-level
/// advisory lock, so one of them migrates and the others find the work done.
///
/// Types: names and ids are `TEXT COLLATE "C"` (byte order, as the protocol's lists are sorted,
/// whatever the database's locale); dates are `DOUBLE PRECISION` seconds since 1970 (exact round
/// trips, as in SQLite); statuses are the reference's integer codes; JSON values are their
/// compact text (kept byte for byte: `jsonb` would reorder object keys).
extension PostgresStore {
    struct Migration {
        let version: String
        let statements: [String]
    }

    /// The advisory lock key of schema migrations ("pushy" in ASCII).
    static let migrationLock: Int64 = 0x70_7573_6879

    static let migrations: [Migration] = [
        Migration(version: "v1", statements: [
            """
            CREATE TABLE orgs (
                name TEXT COLLATE "C" PRIMARY KEY,
                guid TEXT NOT NULL UNIQUE,
                created_at DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE principals (
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                name TEXT COLLATE "C" NOT NULL,
                type TEXT NOT NULL CHECK (type IN ('user', 'client')),
                public_key TEXT NOT NULL,
                is_admin BOOLEAN NOT NULL,
                is_superuser BOOLEAN NOT NULL DEFAULT FALSE,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (org, name)
            )
            """,
            """
            CREATE TABLE nodes (
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                name TEXT COLLATE "C" NOT NULL,
                environment TEXT NOT NULL,
                roles TEXT NOT NULL,
                tags TEXT NOT NULL,
                attributes TEXT NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (org, name)
            )
            """,
            """
            CREATE TABLE jobs (
                id TEXT COLLATE "C" PRIMARY KEY,
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                command TEXT NOT NULL,
                quorum BIGINT NOT NULL,
                run_timeout BIGINT NOT NULL,
                status BIGINT NOT NULL,
                status_reason TEXT,
                requestor TEXT NOT NULL,
                run_as_user TEXT,
                dir TEXT,
                env TEXT,
                file TEXT,
                capture_output BOOLEAN NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                rate_control TEXT,
                rerun_of TEXT,
                template TEXT,
                template_version BIGINT,
                origin TEXT
            )
            """,
            "CREATE INDEX jobs_by_org_age ON jobs (org, created_at DESC, id DESC)",
            "CREATE INDEX jobs_by_status ON jobs (status)",
            """
            CREATE TABLE job_nodes (
                job_id TEXT COLLATE "C" NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                node TEXT COLLATE "C" NOT NULL,
                status BIGINT NOT NULL,
                reason TEXT,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (job_id, node)
            )
            """,
            """
            CREATE TABLE job_output (
                job_id TEXT COLLATE "C" NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                node TEXT COLLATE "C" NOT NULL,
                stdout BYTEA NOT NULL,
                stderr BYTEA NOT NULL,
                stdout_truncated BOOLEAN NOT NULL,
                stderr_truncated BOOLEAN NOT NULL,
                PRIMARY KEY (job_id, node)
            )
            """,
            """
            CREATE TABLE groups (
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                name TEXT COLLATE "C" NOT NULL,
                PRIMARY KEY (org, name)
            )
            """,
            """
            CREATE TABLE group_members (
                org TEXT COLLATE "C" NOT NULL,
                group_name TEXT COLLATE "C" NOT NULL,
                member_type TEXT NOT NULL CHECK (member_type IN ('user', 'client', 'group')),
                member_name TEXT COLLATE "C" NOT NULL,
                PRIMARY KEY (org, group_name, member_type, member_name),
                FOREIGN KEY (org, group_name) REFERENCES groups(org, name) ON DELETE CASCADE
            )
            """,
            "CREATE INDEX group_members_by_member ON group_members (org, member_type, member_name)",
            """
            CREATE TABLE enrollment_tokens (
                token_hash TEXT PRIMARY KEY,
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                created_by TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                expires_at DOUBLE PRECISION NOT NULL,
                used_at DOUBLE PRECISION,
                used_by TEXT
            )
            """,
            // Ids from the database's sequence: unique and increasing across every server.
            """
            CREATE TABLE audit (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at DOUBLE PRECISION NOT NULL,
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                actor TEXT NOT NULL,
                actor_type TEXT NOT NULL,
                action TEXT NOT NULL,
                target TEXT NOT NULL,
                detail TEXT NOT NULL,
                remote_address TEXT NOT NULL
            )
            """,
            "CREATE INDEX audit_by_org ON audit (org, id DESC)",
            """
            CREATE TABLE templates (
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                name TEXT COLLATE "C" NOT NULL,
                version BIGINT NOT NULL,
                definition TEXT NOT NULL,
                created_by TEXT NOT NULL,
                author TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (org, name, version)
            )
            """,
            // The (schedule_id, tick) key is what makes a run time run once, whichever server takes it.
            """
            CREATE TABLE schedules (
                id TEXT COLLATE "C" PRIMARY KEY,
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                name TEXT COLLATE "C" NOT NULL,
                owner TEXT NOT NULL,
                definition TEXT NOT NULL,
                paused BOOLEAN NOT NULL,
                cursor DOUBLE PRECISION NOT NULL,
                queued DOUBLE PRECISION,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                UNIQUE (org, name)
            )
            """,
            """
            CREATE TABLE schedule_runs (
                schedule_id TEXT COLLATE "C" NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
                tick DOUBLE PRECISION NOT NULL,
                at DOUBLE PRECISION NOT NULL,
                outcome TEXT NOT NULL,
                job_id TEXT,
                reason TEXT,
                PRIMARY KEY (schedule_id, tick)
            )
            """,
            """
            CREATE TABLE plans (
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                name TEXT COLLATE "C" NOT NULL,
                definition TEXT NOT NULL,
                created_by TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (org, name)
            )
            """,
            """
            CREATE TABLE plan_runs (
                id TEXT COLLATE "C" PRIMARY KEY,
                org TEXT COLLATE "C" NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                plan TEXT NOT NULL,
                definition TEXT NOT NULL,
                parameters TEXT NOT NULL,
                requestor TEXT NOT NULL,
                status TEXT NOT NULL,
                reason TEXT,
                steps TEXT NOT NULL,
                created_at DOUBLE PRECISION NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL
            )
            """,
            "CREATE INDEX plan_runs_by_org_age ON plan_runs (org, created_at DESC, id DESC)",
        ]),
        // Several servers on one database (issue 17 points 2-3): who owns a job, which servers
        // live, which server holds which node, and the messages between servers.
        Migration(version: "v2", statements: [
            "ALTER TABLE jobs ADD COLUMN owner TEXT COLLATE \"C\"",
            "ALTER TABLE plan_runs ADD COLUMN owner TEXT COLLATE \"C\"",
            """
            CREATE TABLE pushy_servers (
                id TEXT COLLATE "C" PRIMARY KEY,
                rest_url TEXT NOT NULL,
                command_address TEXT NOT NULL,
                heartbeat_address TEXT NOT NULL,
                agents BIGINT NOT NULL,
                room BIGINT NOT NULL,
                started_at DOUBLE PRECISION NOT NULL,
                lease_until DOUBLE PRECISION NOT NULL
            )
            """,
            """
            CREATE TABLE node_presence (
                org TEXT COLLATE "C" NOT NULL,
                node TEXT COLLATE "C" NOT NULL,
                server TEXT COLLATE "C" NOT NULL,
                available BOOLEAN NOT NULL,
                updated_at DOUBLE PRECISION NOT NULL,
                PRIMARY KEY (org, node)
            )
            """,
            "CREATE INDEX node_presence_by_server ON node_presence (server)",
            """
            CREATE TABLE cluster_messages (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                to_server TEXT COLLATE "C" NOT NULL,
                from_server TEXT NOT NULL,
                body TEXT NOT NULL
            )
            """,
            "CREATE INDEX cluster_messages_by_server ON cluster_messages (to_server, id)",
        ]),
    ]

    /// Brings the database to the newest schema. A database migrated by a newer Pushy (a version
    /// this one does not know) is refused rather than used half-understood.
    func migrate() async throws(StoreError) {
        let known = Self.migrations.map(\.version)
        try await transaction { session in
            try await session.run("SELECT pg_advisory_xact_lock(\(Self.migrationLock))")
            try await session.run("""
                CREATE TABLE IF NOT EXISTS pushy_schema_migrations (
                    version TEXT PRIMARY KEY,
                    applied_at DOUBLE PRECISION NOT NULL
                )
                """)
            let applied = Set(try await session.strings("SELECT version FROM pushy_schema_migrations"))
            if let unknown = applied.subtracting(known).sorted().first {
                throw StoreError.io("its schema has version '\(unknown)', newer than this pushy-server knows "
                                    + "(\(known.joined(separator: ", "))): run a newer pushy-server")
            }
            for m in Self.migrations where !applied.contains(m.version) {
                for sql in m.statements { try await session.run(PostgresQuery(unsafeSQL: sql)) }
                try await session.run("""
                    INSERT INTO pushy_schema_migrations (version, applied_at)
                    VALUES (\(m.version), \(Date().timeIntervalSince1970))
                    """)
            }
        }
    }

    /// The schema versions applied to the database, in the order they were shipped (tests, diagnostics).
    public func schemaVersions() async throws(StoreError) -> [String] {
        let applied = Set(try await read { session in try await session.strings("SELECT version FROM pushy_schema_migrations") })
        return Self.migrations.map(\.version).filter(applied.contains)
    }
}
