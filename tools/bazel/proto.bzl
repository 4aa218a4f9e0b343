"""C++ code generation for .proto files with Debian's protoc and grpc_cpp_plugin.

Bazel 4's native proto rules need the protobuf sources from the internet; this rule calls the
system compiler instead, which matches the system libprotobuf the code links against.

    cc_grpc_proto_library(
        name = "videogen_cc_proto",
        srcs = ["videogen.proto"],
        deps = [":common_cc_proto"],   # other cc_grpc_proto_library targets it imports
        grpc = True,                   # also generate the service stubs
    )
"""

ProtoSourcesInfo = provider(
    doc = "The .proto files of a target and of everything it imports.",
    fields = {"transitive_srcs": "depset of .proto files"},
)

def _proto_gen_impl(ctx):
    transitive = depset(
        ctx.files.srcs,
        transitive = [dep[ProtoSourcesInfo].transitive_srcs for dep in ctx.attr.deps],
    )
    for src in ctx.files.srcs:
        if src.owner.workspace_name or src.owner.package != ctx.label.package:
            fail("{} must be a .proto file of package //{}".format(src.path, ctx.label.package))
    outputs = ctx.outputs.outs

    args = ctx.actions.args()
    # Import paths are workspace-relative, as are the generated files (under bazel-bin); the
    # well-known types come from Debian's /usr/include.
    args.add_all(["-I.", "-I/usr/include", "--cpp_out=" + ctx.bin_dir.path])
    tools = [ctx.executable._protoc]
    if ctx.attr.grpc:
        args.add("--plugin=protoc-gen-grpc=" + ctx.executable._grpc_plugin.path)
        args.add("--grpc_out=" + ctx.bin_dir.path)
        tools.append(ctx.executable._grpc_plugin)
    args.add_all(ctx.files.srcs)
    ctx.actions.run(
        executable = ctx.executable._protoc,
        arguments = [args],
        inputs = transitive,
        tools = tools,
        outputs = outputs,
        mnemonic = "ProtocCpp",
        progress_message = "Generating C++ from {}".format(", ".join([s.short_path for s in ctx.files.srcs])),
    )
    return [
        DefaultInfo(files = depset(outputs)),
        ProtoSourcesInfo(transitive_srcs = transitive),
    ]

_proto_gen = rule(
    implementation = _proto_gen_impl,
    attrs = {
        "srcs": attr.label_list(allow_files = [".proto"], mandatory = True),
        "deps": attr.label_list(providers = [ProtoSourcesInfo]),
        "grpc": attr.bool(default = False),
        # What protoc writes for `srcs`, named by the macro so that cc_library can refer to them.
        "outs": attr.output_list(mandatory = True),
        "_protoc": attr.label(
            default = "@system//:bin/protoc",
            executable = True,
            allow_single_file = True,
            cfg = "exec",
        ),
        "_grpc_plugin": attr.label(
            default = "@system//:bin/grpc_cpp_plugin",
            executable = True,
            allow_single_file = True,
            cfg = "exec",
        ),
    },
)

def cc_grpc_proto_library(name, srcs, deps = [], grpc = False, **kwargs):
    """A cc_library of the C++ (and optionally gRPC) code generated from `srcs`.

    `deps` are other cc_grpc_proto_library targets whose .proto files `srcs` import.
    """
    stems = [src[:-len(".proto")] for src in srcs]
    suffixes = [".pb"] + ([".grpc.pb"] if grpc else [])
    sources = [stem + suffix + ".cc" for stem in stems for suffix in suffixes]
    headers = [stem + suffix + ".h" for stem in stems for suffix in suffixes]
    _proto_gen(
        name = name + "_gen",
        srcs = srcs,
        deps = [dep + "_gen" for dep in deps],
        grpc = grpc,
        outs = sources + headers,
        visibility = kwargs.get("visibility"),
    )
    native.cc_library(
        name = name,
        srcs = sources,
        hdrs = headers,
        deps = deps + ["@system//:protobuf"] + (["@system//:grpc++"] if grpc else []),
        **kwargs
    )
