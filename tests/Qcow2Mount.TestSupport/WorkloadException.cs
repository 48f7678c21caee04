namespace Qcow2Mount.TestSupport;

/// <summary>An operation of a seeded workload threw; the message names the seed and the step so the run can be replayed.</summary>
public sealed class WorkloadException : Exception
{
    public WorkloadException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public WorkloadException(string message)
        : base(message)
    {
    }

    public WorkloadException()
    {
    }
}
