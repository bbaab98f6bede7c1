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
        migrator.registerMigration("v3-identity") { db in
            // Groups replace the v1 is_admin flag for authorization; flagged users (only
            // `pushy-server init` set it) become members of `admins` and server superusers.
            try db.execute(sql: """
                ALTER TABLE principals ADD COLUMN is_superuser INTEGER NOT NULL DEFAULT 0;
                UPDATE principals SET is_superuser = 1 WHERE is_admin = 1 AND type = 'user';
                CREATE TABLE groups (
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    PRIMARY KEY (org, name)
                );
                CREATE TABLE group_members (
                    org TEXT NOT NULL,
                    group_name TEXT NOT NULL,
                    member_type TEXT NOT NULL CHECK (member_type IN ('user', 'client', 'group')),
                    member_name TEXT NOT NULL,
                    PRIMARY KEY (org, group_name, member_type, member_name),
                    FOREIGN KEY (org, group_name) REFERENCES groups(org, name) ON DELETE CASCADE
                );
                CREATE INDEX group_members_by_member ON group_members (org, member_type, member_name);
                INSERT INTO groups (org, name) SELECT DISTINCT org, 'admins' FROM principals WHERE is_admin = 1;
                INSERT INTO group_members (org, group_name, member_type, member_name)
                    SELECT org, 'admins', type, name FROM principals WHERE is_admin = 1;
                CREATE TABLE enrollment_tokens (
                    token_hash TEXT NOT NULL PRIMARY KEY,
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    created_by TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    expires_at REAL NOT NULL,
                    used_at REAL,
                    used_by TEXT
                );
                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    at REAL NOT NULL,
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    actor TEXT NOT NULL,
                    actor_type TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    remote_address TEXT NOT NULL
                );
                CREATE INDEX audit_by_org ON audit (org, id DESC);
                """)
        }
        migrator.registerMigration("v4-rate-control") { db in
            // Issue 13: a job's rate control (JSON object) and the job it re-runs.
            try db.execute(sql: """
                ALTER TABLE jobs ADD COLUMN rate_control TEXT;
                ALTER TABLE jobs ADD COLUMN rerun_of TEXT;
                """)
        }
        migrator.registerMigration("v5-templates") { db in
            // Issue 13: job templates, every version kept; a job's template and version.
            try db.execute(sql: """
                CREATE TABLE templates (
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    version INTEGER NOT NULL,
                    definition TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    author TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    PRIMARY KEY (org, name, version)
                );
                ALTER TABLE jobs ADD COLUMN template TEXT;
                ALTER TABLE jobs ADD COLUMN template_version INTEGER;
                """)
        }
        migrator.registerMigration("v6-job-origin") { db in
            // Issue 14: what started a job when no REST caller did (`schedule:NAME`, `plan_run:ID`).
            try db.execute(sql: "ALTER TABLE jobs ADD COLUMN origin TEXT;")
        }
        migrator.registerMigration("v7-schedules") { db in
            // Issue 14: schedules and the run times they handled. The UNIQUE key is what makes
            // a run time run once: a server takes it by inserting its row.
            try db.execute(sql: """
                CREATE TABLE schedules (
                    id TEXT NOT NULL PRIMARY KEY,
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    owner TEXT NOT NULL,
                    definition TEXT NOT NULL,
                    paused INTEGER NOT NULL,
                    cursor REAL NOT NULL,
                    queued REAL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    UNIQUE (org, name)
                );
                CREATE TABLE schedule_runs (
                    schedule_id TEXT NOT NULL REFERENCES schedules(id) ON DELETE CASCADE,
                    tick REAL NOT NULL,
                    at REAL NOT NULL,
                    outcome TEXT NOT NULL,
                    job_id TEXT,
                    reason TEXT,
                    UNIQUE (schedule_id, tick)
                );
                """)
        }
        migrator.registerMigration("v8-plans") { db in
            // Issue 14: orchestration plans and their runs (each run keeps the definition it ran).
            try db.execute(sql: """
                CREATE TABLE plans (
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    definition TEXT NOT NULL,
                    created_by TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    PRIMARY KEY (org, name)
                );
                CREATE TABLE plan_runs (
                    id TEXT NOT NULL PRIMARY KEY,
                    org TEXT NOT NULL REFERENCES orgs(name) ON DELETE CASCADE,
                    plan TEXT NOT NULL,
                    definition TEXT NOT NULL,
                    parameters TEXT NOT NULL,
                    requestor TEXT NOT NULL,
                    status TEXT NOT NULL,
                    reason TEXT,
                    steps TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL
                );
                CREATE INDEX plan_runs_by_org_age ON plan_runs (org, created_at DESC, id DESC);
                """)
        }
        return migrator
    }
}
