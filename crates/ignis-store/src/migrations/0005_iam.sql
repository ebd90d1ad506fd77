-- Version 5: IAM's users, access keys, roles, inline policies, customer
-- managed policies with their versions, and attachments of managed policies
-- (AWS managed ones by ARN, without a row here). Names are unique without
-- regard to case, as in IAM; the case given at creation is kept.

CREATE TABLE iam_users (
    name        TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    id          TEXT NOT NULL UNIQUE,
    path        TEXT NOT NULL,
    create_date INTEGER NOT NULL,
    tags        TEXT NOT NULL
);

-- The secret is needed to verify SigV4 signatures.
CREATE TABLE iam_access_keys (
    id          TEXT NOT NULL PRIMARY KEY,
    user_name   TEXT NOT NULL COLLATE NOCASE,
    secret      TEXT NOT NULL,
    status      TEXT NOT NULL,
    create_date INTEGER NOT NULL
);
CREATE INDEX iam_access_keys_by_user ON iam_access_keys (user_name);

CREATE TABLE iam_roles (
    name                 TEXT NOT NULL PRIMARY KEY COLLATE NOCASE,
    id                   TEXT NOT NULL UNIQUE,
    path                 TEXT NOT NULL,
    trust_policy         TEXT NOT NULL,
    description          TEXT,
    max_session_duration INTEGER NOT NULL,
    create_date          INTEGER NOT NULL,
    tags                 TEXT NOT NULL
);

-- Inline policies of a user ('user') or role ('role'); `size` is what
-- counts against the owner's aggregate quota (IAM counts characters other
-- than white space).
CREATE TABLE iam_inline_policies (
    owner_kind  TEXT NOT NULL,
    owner_name  TEXT NOT NULL COLLATE NOCASE,
    policy_name TEXT NOT NULL COLLATE NOCASE,
    document    TEXT NOT NULL,
    size        INTEGER NOT NULL,
    PRIMARY KEY (owner_kind, owner_name, policy_name)
);

CREATE TABLE iam_policies (
    arn             TEXT NOT NULL PRIMARY KEY,
    name            TEXT NOT NULL UNIQUE COLLATE NOCASE,
    id              TEXT NOT NULL UNIQUE,
    path            TEXT NOT NULL,
    description     TEXT,
    default_version INTEGER NOT NULL,
    create_date     INTEGER NOT NULL,
    update_date     INTEGER NOT NULL,
    tags            TEXT NOT NULL
);

CREATE TABLE iam_policy_versions (
    arn         TEXT NOT NULL,
    version     INTEGER NOT NULL,
    document    TEXT NOT NULL,
    create_date INTEGER NOT NULL,
    PRIMARY KEY (arn, version)
);

CREATE TABLE iam_attachments (
    owner_kind TEXT NOT NULL,
    owner_name TEXT NOT NULL COLLATE NOCASE,
    policy_arn TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_name, policy_arn)
);
CREATE INDEX iam_attachments_by_policy ON iam_attachments (policy_arn);
