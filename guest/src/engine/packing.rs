//! Packing one step's asks into requests: GETs as they are, operations into Graph batches.
//!
//! Owns how operations are grouped (per named account, or together), filled (one media page
//! per batch, edge operations first) and held back (a partial batch of leaf operations waits
//! for later steps while edge answers are outstanding), and which account each request names
//! for the host and the scheduler's lanes. It does not send, order answers or parse them.

use super::*;

/// One operation waiting to be packed into a batch.
pub(super) struct Op {
    family: usize,
    tag: u64,
    url: String,
    priority: u8,
    account: Option<usize>,
    page: bool,
}

/// Submit what the hooks of one step asked: GETs as they are; operations packed into batches
/// of at most [`MAX_BATCH_OPS`] across families, edge operations first; those about a named
/// account (media pages after the first, media and story insights, told to the host by the
/// account hint) in batches of their own per account, the others (whose URLs name their
/// accounts) together; a partial batch of leaf operations is `carried` to a later step while
/// edge answers are outstanding. With Instagram Login (no batch API) each operation is a GET.
pub(super) fn submit(
    client: &GraphClient,
    accounts: &[Account],
    scheduler: &mut Scheduler<Call, WasiHttp>,
    asked: Vec<(usize, Asked)>,
    fields: &fields::FieldPolicy,
    carried: &mut BTreeMap<Option<usize>, Vec<Op>>,
) {
    let id = |a: usize| accounts.get(a).map(|acc| acc.ig_id.clone());
    // Fields already dropped for a request's shape are left out of it.
    let relative = |url: String| {
        let absolute = fields.apply(client.absolute(&url));
        absolute.strip_prefix(&client.absolute("")).map(str::to_string).unwrap_or(url)
    };
    let mut ops: Vec<Op> = Vec::new();
    for (family, asked) in asked {
        match asked {
            Asked::Get { tag, url, priority } => {
                let url = fields.apply(url);
                let mut request = client.get_request(&url);
                // The account its path names: the host is told, and it is the request's lane.
                let path = url.split('?').next().unwrap_or("");
                request.account =
                    accounts.iter().find(|a| path.split('/').any(|s| s == a.ig_id)).map(|a| a.ig_id.clone());
                scheduler.submit(Call::Get { family, tag, url }, request, priority);
            }
            Asked::Ops { ops: list, priority, account } => ops.extend(list.into_iter().map(|(tag, url)| Op {
                family,
                tag,
                url: relative(url),
                priority,
                account,
                page: false,
            })),
            Asked::Page { tag, url, account } => {
                ops.push(Op { family, tag, url: relative(url), priority: PRIORITY_EDGE, account, page: true })
            }
        }
    }
    if !client.batch_supported() {
        for op in ops {
            let url = client.absolute(&op.url);
            let mut request = client.get_request(&url);
            request.account = op.account.and_then(id);
            scheduler.submit(Call::Get { family: op.family, tag: op.tag, url }, request, op.priority);
        }
        return;
    }
    // Operations about named accounts stay apart per account, so a throttle of one account
    // holds back only its own batches. The leaf operations carried from earlier steps go
    // first among the leaves.
    let mut groups: BTreeMap<Option<usize>, Vec<Op>> = std::mem::take(carried);
    for op in ops {
        groups.entry(op.account).or_default().push(op);
    }
    let send = |scheduler: &mut Scheduler<Call, WasiHttp>, account: Option<usize>, chunk: Vec<Op>| {
        let urls: Vec<&str> = chunk.iter().map(|op| op.url.as_str()).collect();
        let mut request = client.batch_request(&urls);
        request.account = account.and_then(id);
        let priority = chunk.iter().map(|op| op.priority).min().unwrap_or(PRIORITY_INSIGHTS);
        let ops = chunk.into_iter().map(|op| (op.family, op.tag, op.url)).collect();
        scheduler.submit(Call::Batch { ops }, request, priority);
    };
    let mut leaves: BTreeMap<Option<usize>, Vec<Op>> = BTreeMap::new();
    for (account, group) in groups {
        // One page per batch (so slices stay in parallel and an answer holds one page), each
        // filled with the group's other operations, edge ones first.
        let (pages, mut group): (Vec<Op>, Vec<Op>) = group.into_iter().partition(|op| op.page);
        group.sort_by_key(|op| op.priority);
        for page in pages {
            let mut chunk = vec![page];
            chunk.extend(group.drain(..group.len().min(MAX_BATCH_OPS - 1)));
            send(scheduler, account, chunk);
        }
        while !group.is_empty() {
            let chunk: Vec<Op> = group.drain(..group.len().min(MAX_BATCH_OPS)).collect();
            if chunk.len() < MAX_BATCH_OPS && chunk.iter().all(|op| op.priority == PRIORITY_INSIGHTS) {
                leaves.insert(account, chunk);
            } else {
                send(scheduler, account, chunk);
            }
        }
    }
    // A partial batch of leaf operations (whose answers lead to nothing more) waits for the
    // operations of later steps while an edge answer, which may ask more, is outstanding; so
    // batches are full. Both depend only on the answers handed out, never on timing.
    if scheduler.outstanding_edges() > 0 {
        *carried = leaves;
    } else {
        for (account, chunk) in leaves {
            send(scheduler, account, chunk);
        }
    }
}
