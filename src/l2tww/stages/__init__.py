"""The stages layer: the verbs that produce artifacts, and the only code besides the CLI that reads
`Params` and `Layout`. Each stage resolves the params into plain values (paths, config slices,
method specs) and hands them to the library below, which never sees a params file.

    prepare    l2tww prepare      split      l2tww split
    pretrain   l2tww pretrain     train      l2tww train
    summarize  l2tww summarize    report     l2tww report
    sync       l2tww sync         plan       the jobs of `snakemake all`: files, recorded identities
    identity   what a result depends on (params slice, inputs, code), for Snakemake, resume, metrics
    codehash   the code part of an identity
    inputs     the plain description of a source or a run, shared by training and the report
    common     what pretraining and training share (device, data, how a finished job is recorded)
    check      what `l2tww check` loads beyond the params (your own state_dict sources) and its warnings

The CLI's other verbs read results, not params: `check` and `runs` only load the params,
`compare` reads two result sets (results.compare), `weights` two weight files (training.weights_diff).
Modules are imported by the verb that needs them: only prepare/pretrain/train load torch.
"""
