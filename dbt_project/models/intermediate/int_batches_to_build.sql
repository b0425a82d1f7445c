-- The batches this build computes, once per build (macros/batches_to_build.sql): every
-- incremental model and test filters on this table (is_batch_to_build) instead of
-- recomputing the list from the raw tables.
with

batches_to_build as (

    {{ batches_to_build() }}

),

final as (

    select distinct batches_to_build.batch_id

    from batches_to_build

)

select * from final
