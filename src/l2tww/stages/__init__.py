"""The stages layer: one module per CLI verb, the only code besides the CLI that reads `Params`
and `Layout`. Each stage resolves the params into plain values (paths, config slices, method
specs) and hands them to the library below, which never sees a params file.

    identity   what a result depends on (params slice, inputs, code), for Snakemake, resume, metrics
    prepare    l2tww prepare      split      l2tww split
    pretrain   l2tww pretrain     train      l2tww train
    summarize  l2tww summarize    report     l2tww report
    inputs     the plain description of a source or a run, shared by training and the report

Modules are imported by the verb that needs them: only prepare/pretrain/train load torch.
"""
