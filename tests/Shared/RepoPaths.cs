namespace CocoLaunch.Tests.Shared;

/// <summary>Paths into the repository, found by walking up from the test binary to CocoLaunch.sln.</summary>
internal static class RepoPaths
{
    public static string Root { get; } = FindRoot();

    /// <summary>Debian ovmf 2022.11-6+deb12u2, vendored with its copyright file (firmware/…/README.md).</summary>
    public static string DebianOvmf => Path.Combine(Root, "firmware", "debian-ovmf-2022.11-6+deb12u2");

    public static string OvmfFd => Path.Combine(DebianOvmf, "OVMF.fd");

    /// <summary>Debian 13's OVMF 2025.02, which has CC measurement (firmware/debian-ovmf-2025.02-8+deb13u1).</summary>
    public static string TrixieOvmfFd => Path.Combine(Root, "firmware", "debian-ovmf-2025.02-8+deb13u1", "OVMF.fd");

    public static string OvmfCodeFd => Path.Combine(DebianOvmf, "OVMF_CODE.fd");

    public static string OvmfVarsFd => Path.Combine(DebianOvmf, "OVMF_VARS.fd");

    /// <summary>Copies of shared/vectors/synthetic (firmware/synthetic/README.md says how they are built).</summary>
    public static string Synthetic(string name) => Path.Combine(Root, "firmware", "synthetic", name);

    /// <summary>Debian's 6.12 cloud kernel (bzImage), vendored under linux/.</summary>
    public static string DebianKernel => Path.Combine(Root, "linux", "debian-linux-image-6.12.101-1~deb12u1", "vmlinuz-6.12.101+deb12-cloud-amd64");

    /// <summary>Our test initramfs (initramfs/build.sh).</summary>
    public static string TestInitramfs => Path.Combine(Root, "initramfs", "bin", "initramfs.cpio.gz");

    public static string LaunchSpec(string name) => Path.Combine(Root, "launch-specs", name);

    /// <summary>A file under tests/data (see its README for where each came from).</summary>
    public static string TestData(string name) => Path.Combine(Root, "tests", "data", name);

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "CocoLaunch.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("CocoLaunch.sln not found above " + AppContext.BaseDirectory);
    }
}
