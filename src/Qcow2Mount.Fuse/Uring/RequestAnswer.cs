namespace Qcow2Mount.Fuse.Uring;

/// <summary>
/// Answers one FUSE request laid out as /dev/fuse delivers it (in header, then body) into <paramref name="reply"/>
/// (at least <see cref="FuseRequestHandler.ReplyBufferSize"/> bytes, out header then body); returns the reply's length,
/// 0 when the request takes no reply.
/// </summary>
internal delegate int RequestAnswer(ReadOnlySpan<byte> request, Span<byte> reply);
