import GRDB

extension SQLiteStore {
    /// Schema versions, applied in order at open. Never edit a shipped migration; add a new one.
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            // Dates are REAL seconds since 1970 (sub-millisecond precision); statuses are the
            // reference's integer codes; JSON values are their compact text.
            try db.execute(sql: """
                CREATE TABLE orgs (
                    name TEXT NOT NULL PRIMARY KEY,
                    guid TEXT NOT NULL UNIQUE,
                    created_at REAL NOT NULL
                );
                CREATE TABLE principals (
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    type TEXT NOT NULL CHECK (type IN ('user', 'client')),
                    public_key TEXT NOT NULL,
                    is_admin INTEGER NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (org, name)
                );
                CREATE TABLE nodes (
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    environment TEXT NOT NULL,
                    roles TEXT NOT NULL,
                    tags TEXT NOT NULL,
                    attributes TEXT NOT NULL,
                    updated_at REAL NOT NULL,
                    PRIMARY KEY (org, name)
                );
                CREATE TABLE jobs (
                    id TEXT NOT NULL PRIMARY KEY,
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    command TEXT NOT NULL,
                    quorum INTEGER NOT NULL,
                    run_timeout INTEGER NOT NULL,
                    status INTEGER NOT NULL,
                    status_reason TEXT,
                    requestor TEXT NOT NULL,
                    run_as_user TEXT,
                    dir TEXT,
                    env TEXT,
                    file TEXT,
                    capture_output INTEGER NOT NULL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE INDEX jobs_by_org_age ON jobs (org, created_at DESC, id DESC);
                CREATE INDEX jobs_by_status ON jobs (status);
                CREATE TABLE job_nodes (
                    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    node TEXT NOT NULL,
                    status INTEGER NOT NULL,
                    reason TEXT,
                    updated_at REAL NOT NULL,
                    PRIMARY KEY (job_id, node)
                );
                """)
        }
        migrator.registerMigration("v2-output") { db in
            try db.execute(sql: """
                CREATE TABLE job_output (
                    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
                    node TEXT NOT NULL,
                    stdout BLOB NOT NULL,
                    stderr BLOB NOT NULL,
                    stdout_truncated INTEGER NOT NULL,
                    stderr_truncated INTEGER NOT NULL,
                    PRIMARY KEY (job_id, node)
                );
                """)
        }
        return migrator
    }
}
