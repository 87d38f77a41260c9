using System.Security.Cryptography;

namespace CocoLaunch.Firmware.Snp;

/// <summary>
/// Random bytes for the firmware's keys (VMPCKs) and REPORT_ID, from the kernel's CSPRNG. On Linux .NET's
/// RandomNumberGenerator is OpenSSL's RAND_bytes, and loading libcrypto and libssl for the 160 bytes every SNP
/// launch draws would cost `measure`, which hashes with a managed SHA-384, about 3.7 MiB of its peak RSS.
/// /dev/urandom is the same kernel generator as getrandom(2); elsewhere the platform's generator is used.
/// </summary>
internal static class KeyRandom
{
    public static byte[] GetBytes(int count)
    {
        byte[] bytes = new byte[count];
        if (OperatingSystem.IsLinux())
        {
            using var urandom = File.OpenHandle("/dev/urandom");
            for (int done = 0; done < count;)
            {
                int n = RandomAccess.Read(urandom, bytes.AsSpan(done), 0);
                done += n > 0 ? n : throw new IOException("/dev/urandom returned no bytes");
            }
        }
        else
        {
            RandomNumberGenerator.Fill(bytes);
        }

        return bytes;
    }
}
