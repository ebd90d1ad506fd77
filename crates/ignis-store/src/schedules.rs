//! [`ScheduleStore`]: EventBridge Scheduler's durable state — schedule
//! groups (with their tags) and schedules, each schedule with the next tick
//! it is due at.
//!
//! A schedule's definition (expression, zone, target, …) is kept as the
//! scheduler service's JSON; the store owns what must be transactional: a
//! schedule belongs to an existing group, deleting a group deletes its
//! schedules, and a tick is claimed exactly once. The claim is a
//! compare-and-swap of `next_tick_ms` ([`ScheduleStore::claim_tick`]): of
//! several processes sharing the store that read the same due tick, one
//! moves it forward and fires; the others find it moved and do nothing
//! (see `docs/schedules.md`).

use crate::store::StoreError;

/// A schedule group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleGroupRow {
    /// The name.
    pub name: String,
    /// Tags as (key, value), in key order.
    pub tags: Vec<(String, String)>,
    /// Creation time, Unix epoch milliseconds.
    pub created_ms: i64,
    /// Last change, Unix epoch milliseconds.
    pub modified_ms: i64,
}

/// A schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleRow {
    /// Its group's name.
    pub group: String,
    /// The name (unique in its group).
    pub name: String,
    /// The definition, as the scheduler service's JSON.
    pub definition: String,
    /// Whether it is `ENABLED`.
    pub enabled: bool,
    /// The next tick, Unix epoch milliseconds; `None`: no more ticks.
    pub next_tick_ms: Option<i64>,
    /// Creation time, Unix epoch milliseconds.
    pub created_ms: i64,
    /// Last change, Unix epoch milliseconds.
    pub modified_ms: i64,
}

/// A tick won and not yet delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// The schedule's ARN.
    pub schedule_arn: String,
    /// The tick, milliseconds since the Unix epoch.
    pub tick_ms: i64,
    /// The schedule's definition when the tick was won (the service's JSON).
    pub definition: String,
}

/// What writing a schedule found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutSchedule {
    /// Written.
    Done,
    /// Its group does not exist.
    NoGroup,
    /// Creating: a schedule of that name exists in the group.
    Exists,
    /// Updating: there is no such schedule.
    Missing,
}

/// The scheduler's state.
#[async_trait::async_trait]
pub trait ScheduleStore: Send + Sync + 'static {
    /// Creates a group; `false` if the name is taken.
    async fn create_schedule_group(&self, group: ScheduleGroupRow) -> Result<bool, StoreError>;
    /// The group of that name.
    async fn schedule_group(&self, name: &str) -> Result<Option<ScheduleGroupRow>, StoreError>;
    /// Every group, in name order.
    async fn list_schedule_groups(&self) -> Result<Vec<ScheduleGroupRow>, StoreError>;
    /// Deletes a group and its schedules; `false` if there was none.
    async fn delete_schedule_group(&self, name: &str) -> Result<bool, StoreError>;
    /// Replaces a group's tags; `false` if there is no such group.
    async fn set_schedule_group_tags(
        &self,
        name: &str,
        tags: Vec<(String, String)>,
        now_ms: i64,
    ) -> Result<bool, StoreError>;
    /// Creates (`create`) or replaces (keeping its creation time) a schedule.
    async fn put_schedule(
        &self,
        schedule: ScheduleRow,
        create: bool,
    ) -> Result<PutSchedule, StoreError>;
    /// The schedule `name` of `group`.
    async fn schedule(&self, group: &str, name: &str) -> Result<Option<ScheduleRow>, StoreError>;
    /// Schedules (of one group, or all), in (group, name) order.
    async fn list_schedules(&self, group: Option<&str>) -> Result<Vec<ScheduleRow>, StoreError>;
    /// Deletes a schedule; `false` if there was none.
    async fn delete_schedule(&self, group: &str, name: &str) -> Result<bool, StoreError>;
    /// Enabled schedules whose next tick is at or before `until_ms`.
    async fn due_schedules(&self, until_ms: i64) -> Result<Vec<ScheduleRow>, StoreError>;
    /// Claims the tick `tick_ms` of a schedule by moving its next tick to
    /// `next_ms`, only if its next tick is still `tick_ms` (and, with
    /// `delete`, deletes the schedule instead); `true`: this caller won the
    /// tick and fires it, exactly once across processes sharing the store.
    ///
    /// The won tick is written as a pending [`Firing`] in the same
    /// transaction; [`ScheduleStore::finish_firing`] removes it once
    /// delivered, and a process that died in between finds it with
    /// [`ScheduleStore::pending_firings`] at its next start.
    async fn claim_tick(
        &self,
        group: &str,
        name: &str,
        tick_ms: i64,
        next_ms: Option<i64>,
        delete: bool,
        firing: &Firing,
    ) -> Result<bool, StoreError>;
    /// Removes a delivered (or dead-lettered) firing.
    async fn finish_firing(&self, schedule_arn: &str, tick_ms: i64) -> Result<(), StoreError>;
    /// Firings won and not finished, oldest tick first.
    async fn pending_firings(&self) -> Result<Vec<Firing>, StoreError>;
    /// The earliest next tick of any enabled schedule.
    async fn next_schedule_tick(&self) -> Result<Option<i64>, StoreError>;
}
