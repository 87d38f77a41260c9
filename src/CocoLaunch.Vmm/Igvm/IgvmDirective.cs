using CocoLaunch.Formats.Igvm;
using CocoLaunch.Abi.Kvm;
using CocoLaunch.Vmm.Launch;

namespace CocoLaunch.Vmm.Igvm;

/// <summary>What the SNP and TDX directive steps share: the failure naming the directive, and the source pages.</summary>
internal static class IgvmDirective
{
    /// <summary>Runs one directive's ioctls; a refusal names the directive, not just the step.</summary>
    public static void Run(IgvmHeader h, Action action)
    {
        try
        {
            action();
        }
        catch (KvmException e)
        {
            throw IgvmLaunchInput.Refuse(h, e.Message);
        }
    }

    public static ulong PagesOf(ulong bytes) => (bytes + IgvmLaunchInput.Page - 1) / IgvmLaunchInput.Page;

    /// <summary>
    /// The page source the ioctl reads: the file's bytes mapped in place, or, for a zero page or a short
    /// parameter area, fresh anonymous memory (zeros) with whatever data there is copied in.
    /// </summary>
    public static Memory.Hva Source(LaunchContext c, ReadOnlyMemory<byte> data, ulong size)
    {
        if ((ulong)data.Length == size)
        {
            return c.Kvm.Host.MapFile(data);
        }

        var at = c.Kvm.Host.Map(size);
        c.Kvm.Host.Write(at, data.Span);
        return at;
    }
}
