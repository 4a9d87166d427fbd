//! Jobs split into transactions that run side by side, each worker on a
//! connection of its own (the SLA recompute, the breach scanner's pass).

use super::{Conn, Database, DbConnection};
use std::sync::{Mutex, PoisonError};

/// How many workers a job runs side by side: on PostgreSQL one per core
/// (up to four, and no more than the pool holds), so the server works on
/// one transaction while Relay computes the next (one worker leaves each
/// idle half the time); SQLite has one writer, so one.
pub fn parallel_workers(db: &Database, conn: &DbConnection) -> usize {
    match conn {
        DbConnection::Postgresql(_) => std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(db.pool().max_size() as usize)
            .clamp(1, 4),
        DbConnection::Sqlite(_) => 1,
    }
}

/// Runs a job's steps on [`parallel_workers`] connections at once: `first`
/// and the others drawn from `db`'s pool. Each worker takes the next step
/// from `next` (called under a lock, on the worker's connection; `None`
/// once there is none left) and does it with `each`, until no step is
/// left. Returns every step's result, in no particular order. A step that
/// fails stops the others at their next step, and its error is returned.
/// Steps must not wait on each other (e.g. lock disjoint tickets).
pub fn side_by_side<T, R, E>(
    db: &Database,
    first: &mut Conn,
    next: impl FnMut(&mut Conn) -> Result<Option<T>, E> + Send,
    each: impl Fn(&mut Conn, T) -> Result<R, E> + Sync,
) -> Result<Vec<R>, E>
where
    T: Send,
    R: Send,
    E: From<diesel::r2d2::PoolError> + Send,
{
    let workers = parallel_workers(db, first);
    // `None` once the steps ran out or one failed.
    let source = Mutex::new(Some(next));
    let stop = || *source.lock().unwrap_or_else(PoisonError::into_inner) = None;
    let work = |conn: &mut Conn| -> Result<Vec<R>, E> {
        let mut done = Vec::new();
        loop {
            let step = {
                let mut held = source.lock().unwrap_or_else(PoisonError::into_inner);
                let Some(next) = held.as_mut() else {
                    return Ok(done);
                };
                match next(conn) {
                    Ok(Some(step)) => step,
                    Ok(None) => {
                        *held = None;
                        return Ok(done);
                    }
                    Err(err) => {
                        *held = None;
                        return Err(err);
                    }
                }
            };
            match each(conn, step) {
                Ok(result) => done.push(result),
                Err(err) => {
                    stop();
                    return Err(err);
                }
            }
        }
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..workers)
            .map(|_| scope.spawn(|| work(&mut db.get()?)))
            .collect();
        let mut results = work(first);
        for helper in helpers {
            let theirs = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            results = match (results, theirs) {
                (Ok(mut ours), Ok(more)) => {
                    ours.extend(more);
                    Ok(ours)
                }
                (Err(err), _) | (_, Err(err)) => Err(err),
            };
        }
        results
    })
}
