use super::*;

fn open_temp() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in(dir.path()).unwrap();
    (dir, store)
}

fn user(name: &str) -> IamUser {
    IamUser {
        name: name.to_string(),
        id: format!("AIDA{}", name.to_uppercase()),
        path: "/".to_string(),
        create_date: 1_700_000_000,
        tags: vec![("env".to_string(), "dev".to_string())],
    }
}

fn role(name: &str) -> IamRole {
    IamRole {
        name: name.to_string(),
        id: format!("AROA{}", name.to_uppercase()),
        path: "/service-role/".to_string(),
        trust_policy: "{}".to_string(),
        description: Some("d".to_string()),
        max_session_duration: 3600,
        create_date: 1_700_000_000,
        tags: vec![],
    }
}

fn key(user: &str, id: &str) -> AccessKey {
    AccessKey {
        id: id.to_string(),
        user_name: user.to_string(),
        secret: format!("secret-{id}"),
        status: "Active".to_string(),
        create_date: 1_700_000_000,
    }
}

fn policy(name: &str) -> ManagedPolicy {
    ManagedPolicy {
        arn: format!("arn:aws:iam::000000000000:policy/{name}"),
        name: name.to_string(),
        id: format!("ANPA{}", name.to_uppercase()),
        path: "/".to_string(),
        description: None,
        default_version: 1,
        create_date: 1,
        update_date: 1,
        tags: vec![],
    }
}

#[tokio::test]
async fn users_are_unique_without_regard_to_case_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open_in(dir.path()).unwrap();
    store.create_user(&user("Alice")).await.unwrap();
    let again = store.create_user(&user("alice")).await.unwrap_err();
    assert!(matches!(again, IamStoreError::AlreadyExists(Entity::User(ref n)) if n == "alice"));
    drop(store);
    let store = SqliteStore::open_in(dir.path()).unwrap();
    assert_eq!(store.get_user("ALICE").await.unwrap(), Some(user("Alice")));
    assert_eq!(store.list_users().await.unwrap(), vec![user("Alice")]);
    assert_eq!(store.get_user("bob").await.unwrap(), None);
}

#[tokio::test]
async fn access_keys_count_against_the_quota_and_block_deleting_their_user() {
    let (_d, store) = open_temp();
    let missing = store.create_access_key(&key("nobody", "AKIA1"), 2).await;
    assert!(matches!(
        missing,
        Err(IamStoreError::NotFound(Entity::User(_)))
    ));
    store.create_user(&user("u")).await.unwrap();
    store
        .create_access_key(&key("u", "AKIA1"), 2)
        .await
        .unwrap();
    store
        .create_access_key(&key("U", "AKIA2"), 2)
        .await
        .unwrap();
    let third = store
        .create_access_key(&key("u", "AKIA3"), 2)
        .await
        .unwrap_err();
    assert!(matches!(
        third,
        IamStoreError::LimitExceeded {
            quota: "AccessKeysPerUser",
            limit: 2
        }
    ));
    let keys = store.list_access_keys("u").await.unwrap();
    assert_eq!(
        keys.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(),
        ["AKIA1", "AKIA2"]
    );
    assert_eq!(keys[1].user_name, "u", "the user's name as stored");
    assert_eq!(
        store.get_access_key("AKIA2").await.unwrap().unwrap().secret,
        "secret-AKIA2"
    );
    assert_eq!(store.get_access_key("AKIA3").await.unwrap(), None);

    let conflict = store.delete_user("u").await.unwrap_err();
    assert!(matches!(
        conflict,
        IamStoreError::DeleteConflict(_, Dependents::AccessKeys)
    ));
    let wrong = store.delete_access_key("u", "AKIA9").await.unwrap_err();
    assert!(matches!(
        wrong,
        IamStoreError::NotFound(Entity::AccessKey(_))
    ));
    store.delete_access_key("u", "AKIA1").await.unwrap();
    store.delete_access_key("u", "AKIA2").await.unwrap();
    store.delete_user("u").await.unwrap();
    assert!(matches!(
        store.delete_user("u").await,
        Err(IamStoreError::NotFound(_))
    ));
}

#[tokio::test]
async fn inline_policies_replace_and_count_their_aggregate_size() {
    let (_d, store) = open_temp();
    let r = Owner::Role("r".to_string());
    assert!(matches!(
        store.put_inline_policy(&r, "p", "{}", 2, 10).await,
        Err(IamStoreError::NotFound(Entity::Role(_)))
    ));
    store.create_role(&role("r")).await.unwrap();
    store.put_inline_policy(&r, "p", "a", 6, 10).await.unwrap();
    // Replacing p does not count its old size.
    store.put_inline_policy(&r, "P", "b", 8, 10).await.unwrap();
    let over = store
        .put_inline_policy(&r, "q", "c", 3, 10)
        .await
        .unwrap_err();
    assert!(matches!(
        over,
        IamStoreError::LimitExceeded {
            quota: "RolePolicySize",
            limit: 10
        }
    ));
    store.put_inline_policy(&r, "q", "c", 2, 10).await.unwrap();
    assert_eq!(store.list_inline_policies(&r).await.unwrap(), ["p", "q"]);
    assert_eq!(
        store.get_inline_policy(&r, "P").await.unwrap(),
        ("p".to_string(), "b".to_string())
    );
    let conflict = store.delete_role("r").await.unwrap_err();
    assert!(matches!(
        conflict,
        IamStoreError::DeleteConflict(_, Dependents::InlinePolicies)
    ));
    store.delete_inline_policy(&r, "p").await.unwrap();
    assert!(matches!(
        store.delete_inline_policy(&r, "p").await,
        Err(IamStoreError::NotFound(Entity::InlinePolicy(..)))
    ));
    store.delete_inline_policy(&r, "q").await.unwrap();
    store.delete_role("r").await.unwrap();
}

#[tokio::test]
async fn managed_policies_attach_detach_and_refuse_deletion_while_attached() {
    let (_d, store) = open_temp();
    let p = policy("mine");
    store.create_policy(&p, "{\"v\":1}").await.unwrap();
    assert!(matches!(
        store.create_policy(&policy("MINE"), "{}").await,
        Err(IamStoreError::AlreadyExists(_))
    ));
    assert_eq!(store.get_policy(&p.arn).await.unwrap(), Some(p.clone()));
    let v1 = store.get_policy_version(&p.arn, 1).await.unwrap().unwrap();
    assert_eq!(v1.document, "{\"v\":1}");
    assert_eq!(store.get_policy_version(&p.arn, 2).await.unwrap(), None);

    store.create_role(&role("r")).await.unwrap();
    let r = Owner::Role("R".to_string());
    let aws = "arn:aws:iam::aws:policy/AdministratorAccess";
    store.attach_policy(&r, &p.arn, true, 2).await.unwrap();
    store.attach_policy(&r, &p.arn, true, 2).await.unwrap();
    store.attach_policy(&r, aws, false, 2).await.unwrap();
    let missing = store
        .attach_policy(&r, "arn:aws:iam::000000000000:policy/none", true, 5)
        .await
        .unwrap_err();
    assert!(matches!(
        missing,
        IamStoreError::NotFound(Entity::Policy(_))
    ));
    let full = store
        .attach_policy(&r, "arn:aws:iam::aws:policy/ReadOnlyAccess", false, 2)
        .await
        .unwrap_err();
    assert!(matches!(
        full,
        IamStoreError::LimitExceeded {
            quota: "PoliciesPerRole",
            ..
        }
    ));
    assert_eq!(
        store.attached_policies(&r).await.unwrap(),
        [p.arn.as_str(), aws]
    );
    let counts = store.attachment_counts().await.unwrap();
    assert_eq!((counts[&p.arn], counts[aws]), (1, 1));

    assert!(matches!(
        store.delete_policy(&p.arn).await,
        Err(IamStoreError::DeleteConflict(_, Dependents::Attachments))
    ));
    assert!(matches!(
        store.delete_role("r").await,
        Err(IamStoreError::DeleteConflict(
            _,
            Dependents::AttachedPolicies
        ))
    ));
    store.detach_policy(&r, &p.arn).await.unwrap();
    assert!(matches!(
        store.detach_policy(&r, &p.arn).await,
        Err(IamStoreError::NotFound(Entity::Attachment(..)))
    ));
    store.delete_policy(&p.arn).await.unwrap();
    assert_eq!(store.get_policy(&p.arn).await.unwrap(), None);
    assert_eq!(store.get_policy_version(&p.arn, 1).await.unwrap(), None);
    assert!(store.list_policies().await.unwrap().is_empty());
}

#[tokio::test]
async fn roles_keep_their_fields_and_trust_policy_updates() {
    let (_d, store) = open_temp();
    store.create_role(&role("fn")).await.unwrap();
    assert!(matches!(
        store.create_role(&role("FN")).await,
        Err(IamStoreError::AlreadyExists(Entity::Role(_)))
    ));
    store
        .update_trust_policy("Fn", "{\"new\":1}")
        .await
        .unwrap();
    let mut want = role("fn");
    want.trust_policy = "{\"new\":1}".to_string();
    assert_eq!(store.get_role("fn").await.unwrap(), Some(want.clone()));
    assert_eq!(store.list_roles().await.unwrap(), vec![want]);
    assert!(matches!(
        store.update_trust_policy("other", "{}").await,
        Err(IamStoreError::NotFound(Entity::Role(_)))
    ));
}
