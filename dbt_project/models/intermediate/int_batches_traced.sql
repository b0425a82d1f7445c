with recursive

batches as (

    select * from {{ ref('stg_together__batches') }}

),

submissions as (

    select * from {{ ref('stg_batchledger__submissions') }}

),

known_batches as (

    -- Batches Together lists, plus batches batchledger submitted that the list does not
    -- show yet, so a chain of retries is followed even through a gap.
    select batch_id from batches
    union
    select batch_id from submissions

),

batch_parents as (

    select
        known_batches.batch_id,
        submissions.parent_batch_id

    from known_batches
    left join submissions
        on known_batches.batch_id = submissions.batch_id

),

ancestors as (

    -- Each batch, then its parent, its parent's parent, ... up to the first submission.
    -- The depth cap stops a hand-edited store with a cycle from looping forever.
    select
        batch_parents.batch_id,
        batch_parents.batch_id as ancestor_batch_id,
        0 as generations_up

    from batch_parents

    union all

    select
        ancestors.batch_id,
        batch_parents.parent_batch_id as ancestor_batch_id,
        ancestors.generations_up + 1 as generations_up

    from ancestors
    inner join batch_parents
        on ancestors.ancestor_batch_id = batch_parents.batch_id
    where
        batch_parents.parent_batch_id is not null
        and ancestors.generations_up < 100

),

roots as (

    select
        batch_id,
        arg_max(ancestor_batch_id, generations_up) as root_batch_id,
        max(generations_up) as retry_depth

    from ancestors
    group by batch_id

),

traced as (

    select
        batch_parents.batch_id,
        batch_parents.parent_batch_id,
        roots.root_batch_id,
        roots.retry_depth

    from batch_parents
    inner join roots
        on batch_parents.batch_id = roots.batch_id

)

select * from traced
